// A sharp origin: what the system Image Flex descends from does on a miss, as a peer for
// bench/peers.py (never shipped). It reads the original from a folder, as Image Flex does, and
// answers GET /PATH?w=&h=&fit=&f=&q= with
//   sharp(input).resize(w, h, {fit}).toFormat(f, {quality})
// leaving out what the query leaves out, so sharp's own defaults apply. No cache of any kind.
//
//   node sharp_origin.mjs --dir DIR --port PORT [--host 127.0.0.1]
import http from "node:http";
import fs from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), [])
);
const root = path.resolve(args.dir ?? ".");
const port = Number(args.port ?? 3000);
const host = args.host ?? "127.0.0.1";
const types = { jpeg: "image/jpeg", jpg: "image/jpeg", webp: "image/webp", avif: "image/avif", png: "image/png" };

function number(value) {
  return value === null ? undefined : Number(value);
}

const server = http.createServer(async (request, response) => {
  try {
    const url = new URL(request.url, "http://origin");
    const file = path.join(root, decodeURIComponent(url.pathname));
    if (!file.startsWith(root + path.sep)) throw Object.assign(new Error("outside the root"), { status: 400 });
    const input = await fs.readFile(file);
    const query = url.searchParams;
    const format = query.get("f") ?? "jpeg";
    const quality = number(query.get("q"));
    const output = await sharp(input)
      .resize(number(query.get("w")), number(query.get("h")), { fit: query.get("fit") ?? "cover" })
      .toFormat(format, quality === undefined ? {} : { quality })
      .toBuffer();
    response.writeHead(200, { "Content-Type": types[format] ?? "application/octet-stream", "Content-Length": output.length });
    response.end(output);
  } catch (error) {
    const status = error.status ?? (error.code === "ENOENT" ? 404 : 500);
    response.writeHead(status, { "Content-Type": "text/plain" });
    response.end(String(error.message ?? error));
  }
});
server.keepAliveTimeout = 60000;
server.listen(port, host, () => console.log(`sharp origin listening on http://${host}:${port} (sharp ${sharp.versions.sharp})`));
