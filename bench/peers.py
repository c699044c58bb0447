#!/usr/bin/env python3
"""Image Flex side by side with what users would run instead (issue 9), in one run on one machine.

    python3 bench/peers.py [--quick] [--record] [--label TEXT]

The peers, started here and stopped again, never shipped (bench/peers/): a sharp origin
(sharp_origin.mjs: sharp(input).resize(w, h, {fit}).toFormat(f, {quality})), ipx 3.1 (`ipx serve
--dir`) and nginx serving the same variant bytes as static files. All read the same files: 12
2560x1600 and 12 5120x2880 JPEG photographs from bench/corpus.sh.

Workloads, the same for every server:
- Misses: fit into 512x512 at JPEG q80, WebP q75 and AVIF q65 (imgproxy's benchmark settings), each
  format at every server's own defaults, and JPEG q80 from the 5120x2880 photos (peak RSS). Every
  request is a new variant: the photos are hard-linked under as many folder names as the run needs.
  MISS_CONNECTIONS (2) keep-alive connections in a closed loop for MISS_SECONDS, split into
  MISS_ROUNDS interleaved rounds (each server in turn, the order reversed every other round), so
  that a busy moment on this shared machine does not fall on one server alone.
- Hits (wrk, HIT_CONNECTIONS keep-alive connections, HIT_SECONDS): Image Flex from memory, from the
  folder store with the memory tier off, from S3 (a local Swift, deploy/swift/start.sh) with the
  memory tier off and on; against nginx serving the same bytes, and a plain GET of the same object
  from the same Swift.
- Cold latency: time to first byte of a 1200 px AVIF and WebP from a 5120x2880 JPEG, one request at
  a time, each server at its defaults.
- Soak (Image Flex only): SOAK_SECONDS of mixed hits and misses, RSS sampled every SOAK_SAMPLE s, and
  settled (the load paused until no transform runs) after each minute.

Reported for each: requests/s, p50/p95/p99, peak RSS (sampled every 100 ms over the server's process
tree), CPU per request, average output bytes, SSIM against a reference downscale (bench/quality_sweep
--score) and the ratio ours/peer; then PASS/MISS per target of the issue, gnuplot charts, and the
Markdown report, appended to bench/out/results.md (and with --record to BENCHMARKS.md, charts to
docs/bench/). --quick: short runs (about 5 minutes) to check the harness, not to quote.

Knobs (environment; full / quick): MISS_SECONDS (12 / 4) and MISS_AT_LEAST (12 / 4 requests) per
server and miss workload, MISS_ROUNDS (4 / 2), MISS_CONNECTIONS (2), HIT_SECONDS (10 / 3), HIT_CONNECTIONS (64),
COLD_COUNT (6 / 2 photos), SOAK_SECONDS (600 / 60), SOAK_SAMPLE (10 s), SSIM_COUNT (12 / 4 outputs
scored per run), MAX_MISS_RATE (120/s: how many distinct files to link), BENCH_PORTS (a port range
for the peers, e.g. 25000-25999; default: ports the kernel picks). Settings in the environment
(IF_*, MALLOC_CONF, ...) reach Image Flex and are named in the report.
"""

import argparse
import datetime
import http.client
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from benchlib import (ROOT, append_report, nginx_static_config, stop_process, Server, binary_of, commit_text, corpus_dir, cpu_model, cpu_seconds, env_number,
                      machine_memory, measured_environment, percentile)

PEERS_DIR = os.path.join(ROOT, "bench", "peers")
OUT = os.path.join(ROOT, "bench", "out")
SIZES = ("2560x1600", "5120x2880")
BOX = 512
OURS = "Image Flex"
SHARP = "sharp origin"
IPX = "ipx"
MISS_SERVERS = (OURS, SHARP, IPX)


def log(text):
    print(text, flush=True)


# ---------------------------------------------------------------- processes


def tree_pids(pid):
    """A process and its descendants (nginx's workers, npm's node)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(child) for child in children.read().split()]
        except OSError:
            pass
    return pids


def tree_rss(pid):
    """Resident memory of a process tree, MiB."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def tree_cpu(pid):
    """User + system CPU seconds of a process tree so far."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            total += sum(cpu_seconds(p))
        except OSError:
            pass
    return total


class RssTrace(threading.Thread):
    """Samples a process tree's RSS every `interval` seconds: the peak and the (seconds, MiB) trace."""

    def __init__(self, pid, interval):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.trace = pid, interval, 0.0, []
        self.stopping, self.started = threading.Event(), time.monotonic()

    def run(self):
        while True:
            rss = tree_rss(self.pid)
            self.peak = max(self.peak, rss)
            self.trace.append((time.monotonic() - self.started, rss))
            if self.stopping.wait(self.interval):
                return

    def stop(self):
        self.stopping.set()
        self.join()
        return self.peak


def free_port():
    """A free port: in BENCH_PORTS (e.g. 25000-25999) when set, else one the kernel picks."""
    low, high = (int(x) for x in os.environ.get("BENCH_PORTS", "0-0").split("-"))
    candidates = random.sample(range(low, high + 1), high - low + 1) if low else [0]
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    sys.exit(f"peers.py: no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


class Process:
    """A peer server: started with its command, ready when its port accepts, stopped by its pid."""

    def __init__(self, name, command, port, log_path, cwd=None):
        self.name, self.port, self.log_path = name, port, log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd)
        self.pid = self.process.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit(f"peers.py: {name} did not start:\n" + open(log_path).read())

    def stop(self):
        stop_process(self.process, self.log)


def npm_ci():
    """The peers' exact versions (package-lock.json), installed once per lock file."""
    stamp = os.path.join(PEERS_DIR, "node_modules", ".imageflex-lock")
    lock = open(os.path.join(PEERS_DIR, "package-lock.json")).read()
    if os.path.exists(stamp) and open(stamp).read() == lock:
        return
    log("npm ci (bench/peers: sharp, ipx)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEERS_DIR, check=True)
    with open(stamp, "w") as out:
        out.write(lock)


def package_version(name):
    with open(os.path.join(PEERS_DIR, "node_modules", name, "package.json")) as package:
        return json.load(package)["version"]


# ---------------------------------------------------------------- the servers, one URL scheme each


def query_path(rel, width, height, fmt, quality):
    """Image Flex's and the sharp origin's URL: the same query parameters."""
    query = f"w={width}" + (f"&h={height}&fit=inside" if height else "") + f"&f={fmt}"
    return f"/{rel}?{query}" + (f"&q={quality}" if quality else "")


def ipx_path(rel, width, height, fmt, quality):
    modifiers = [f"f_{fmt}"] + (["fit_inside", f"s_{width}x{height}"] if height else [f"w_{width}"])
    if quality:
        modifiers.append(f"q_{quality}")
    return f"/{','.join(modifiers)}/{rel}"


class Peers:
    """The three servers of the miss and cold workloads, on one folder of originals."""

    def __init__(self, binary, root, tmp):
        self.ours = Server(binary, root, [], os.path.join(tmp, "imageflex.log"))
        self.sharp = self.ipx = None
        try:
            self.sharp = Process(SHARP, ["node", os.path.join(PEERS_DIR, "sharp_origin.mjs"), "--dir", root,
                                         "--port", str(port := free_port())], port, os.path.join(tmp, "sharp.log"))
            ipx_bin = os.path.join(PEERS_DIR, "node_modules", "ipx", "bin", "ipx.mjs")
            self.ipx = Process(IPX, ["node", ipx_bin, "serve", "--dir", root, "--host", "127.0.0.1",
                                     "--port", str(port := free_port())], port, os.path.join(tmp, "ipx.log"))
        except BaseException:  # a peer that did not start exits the run: stop what did start
            self.stop()
            raise

    def each(self):
        """(name, port, pid, URL builder) of each server."""
        return [(OURS, self.ours.port, self.ours.pid, query_path),
                (SHARP, self.sharp.port, self.sharp.pid, query_path),
                (IPX, self.ipx.port, self.ipx.pid, ipx_path)]

    def stop(self):
        for server in (self.ours, self.sharp, self.ipx):
            if server is not None:
                server.stop()


# ---------------------------------------------------------------- load


def get(port, path, timeout=120, headers=None):
    """One GET on a new connection: (status, headers, body, seconds to first byte, seconds in all)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        first_byte = time.monotonic() - started
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, first_byte, \
            time.monotonic() - started
    finally:
        connection.close()


def closed_loop(port, paths, connections, seconds, keep, keep_dir, at_least=0):
    """`connections` keep-alive clients, each sending the next path when its last is answered, until
    the time is up and `at_least` requests were sent, or the paths run out. Saves the bodies of the
    first `keep` paths to keep_dir. Returns [(status, seconds, bytes, index)] and the elapsed time."""
    results, lock, position = [], threading.Lock(), [0]
    end = time.monotonic() + seconds

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while time.monotonic() < end or position[0] < at_least:
            with lock:
                index = position[0]
                if index >= len(paths):
                    return
                position[0] += 1
                path = paths[index]
            started = time.monotonic()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                status, body = 0, b""
            elapsed = time.monotonic() - started
            if status == 200 and index < keep:
                with open(os.path.join(keep_dir, f"{index}"), "wb") as out:
                    out.write(body)
            with lock:
                results.append((status, elapsed, len(body), index))
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.monotonic() - started


def wrk(url, seconds, connections, headers=()):
    """wrk with 2 threads; its figures from bench/peers/wrk_report.lua."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", os.path.join(PEERS_DIR, "wrk_report.lua")]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    figures = json.loads([line for line in output.splitlines() if line.startswith("{")][-1])
    seconds = figures["duration_us"] / 1e6
    return {"rps": figures["requests"] / seconds, "p50": figures["p50"] / 1000, "p95": figures["p95"] / 1000,
            "p99": figures["p99"] / 1000, "errors": figures["errors"] + figures["non2xx"],
            "avg_bytes": figures["bytes"] / max(1, figures["requests"])}


def bytes_per_photo(ok, photos=12):
    """Each photo's mean output bytes (the paths cycle through the 12 photos)."""
    per_photo = {}
    for r in ok:
        per_photo.setdefault(r[3] % photos, []).append(r[2])
    return {photo: sum(v) / len(v) for photo, v in per_photo.items()}


def same_pictures(rows):
    """Average bytes over the photos every server of a workload answered: servers that got through
    different numbers of requests are compared on the same pictures."""
    common = set.intersection(*(set(r["per_photo"]) for r in rows))
    for r in rows:
        r["avg_bytes"] = sum(r["per_photo"][p] for p in common) / len(common) if common else float("nan")
        r["photos"] = len(common)


def summary(results, elapsed):
    ok = [r for r in results if r[0] == 200]
    latencies = [r[1] * 1000 for r in ok]
    counts = {}
    for r in results:
        counts[r[0] or "error"] = counts.get(r[0] or "error", 0) + 1
    return {"n": len(results), "rps": len(ok) / elapsed if elapsed else 0, "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95), "p99": percentile(latencies, 0.99),
            "per_photo": bytes_per_photo(ok),
            "statuses": ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=str))}


# ---------------------------------------------------------------- the corpus, linked as often as needed


def link_tree(corpus, root, name, copies, size):
    """root/NAME/cC/SIZE/PHOTO.jpg for C < copies, hard links of the corpus (copies if it is on
    another file system): a new file name is a new variant for every server, at the same cost."""
    photos = sorted(f for f in os.listdir(os.path.join(corpus, size)) if f.endswith(".jpg"))
    rels = []
    for c in range(copies):
        folder = os.path.join(root, name, f"c{c}", size)
        os.makedirs(folder, exist_ok=True)
        for photo in photos:
            target = os.path.join(folder, photo)
            if not os.path.exists(target):
                try:
                    os.link(os.path.join(corpus, size, photo), target)
                except OSError:
                    shutil.copy(os.path.join(corpus, size, photo), target)
            rels.append(f"{name}/c{c}/{size}/{photo}")
    return rels


def original_of(corpus, rel):
    """The corpus file a linked path names."""
    parts = rel.split("/")
    return os.path.join(corpus, parts[-2], parts[-1])


# ---------------------------------------------------------------- the workloads


MISS_WORKLOADS = [  # label, format, quality (None: the server's default), source size
    ("JPEG q80", "jpeg", 80, SIZES[0]),
    ("WebP q75", "webp", 75, SIZES[0]),
    ("AVIF q65", "avif", 65, SIZES[0]),
    ("JPEG, defaults", "jpeg", None, SIZES[0]),
    ("WebP, defaults", "webp", None, SIZES[0]),
    ("AVIF, defaults", "avif", None, SIZES[0]),
    ("JPEG q80, 5120x2880", "jpeg", 80, SIZES[1]),
]


def run_misses(args, peers, corpus, root, tmp):
    """Each workload in args.miss_rounds rounds: in each, every server gets its share of
    args.miss_seconds in turn, the order reversed every other round, so that what else this shared
    machine does at one moment weighs on every server alike rather than on whichever ran then. A
    server's figures are over all its rounds; its paths run on from round to round (every request
    a new variant)."""
    rows = []
    copies = math.ceil(args.max_miss_rate * args.miss_seconds / 12) + 1
    for k, (label, fmt, quality, size) in enumerate(MISS_WORKLOADS):
        rels = link_tree(corpus, root, f"m{k}", copies, size)
        servers = list(peers.each())
        runs = {name: {"paths": [build_path(rel, BOX, BOX, fmt, quality) for rel in rels], "results": [],
                       "elapsed": 0.0, "cpu": 0.0, "peak": 0.0,
                       "keep_dir": os.path.join(tmp, "outputs", f"m{k}", name.replace(" ", "_"))}
                for name, _, _, build_path in servers}
        for round_ in range(args.miss_rounds):
            for name, port, pid, _ in (servers if round_ % 2 == 0 else servers[::-1]):
                run = runs[name]
                os.makedirs(run["keep_dir"], exist_ok=True)
                used = len(run["results"])
                trace = RssTrace(pid, 0.1)
                trace.start()
                cpu_before = tree_cpu(pid)
                first = round_ == 0  # its outputs are the ones kept and scored
                results, elapsed = closed_loop(port, run["paths"][used:], args.miss_connections,
                                               args.miss_seconds / args.miss_rounds, args.keep if first else 0,
                                               run["keep_dir"], args.miss_at_least if first else 0)
                run["cpu"] += tree_cpu(pid) - cpu_before
                run["peak"] = max(run["peak"], trace.stop())
                run["results"] += [(status, seconds, size_, index + used) for status, seconds, size_, index in results]
                run["elapsed"] += elapsed
                ok_now = sum(1 for r in results if r[0] == 200)
                log(f"    round {round_ + 1}/{args.miss_rounds} {label:<22} {name:<13} "
                    f"{ok_now / elapsed if elapsed else 0:7.1f} r/s")
        for name, _, _, _ in servers:
            run = runs[name]
            row = summary(run["results"], run["elapsed"])
            ok = sum(1 for r in run["results"] if r[0] == 200)
            row.update(workload=label, server=name, peak_rss=run["peak"], fmt=fmt,
                       cpu_ms=1000 * run["cpu"] / ok if ok else float("nan"), path=run["paths"][0],
                       kept=[(original_of(corpus, rels[int(f)]), os.path.join(run["keep_dir"], f))
                             for f in sorted(os.listdir(run["keep_dir"]), key=int)])
            if len(run["results"]) >= len(run["paths"]):
                row["statuses"] += " (ran out of paths: raise --max-miss-rate)"
            log(f"  {label:<22} {name:<13} {row['rps']:7.1f} r/s  p50 {row['p50']:6.0f} ms  "
                f"p99 {row['p99']:6.0f} ms  peak {row['peak_rss']:.0f} MiB  [{row['statuses']}]")
            rows.append(row)
        same_pictures(rows[-len(MISS_SERVERS):])
    return rows


def ssim_of(build, pairs):
    """{(original, output): SSIM of the output against a reference downscale of its original}, from
    quality_sweep --score (built first if it is not)."""
    tool = os.path.join(build, "bench", "quality_sweep")
    if not os.access(tool, os.X_OK):
        subprocess.run(["cmake", "--build", build, "--target", "quality_sweep"], check=True)
    output = subprocess.run([tool, "--score"], input="".join(f"{o}\t{t}\n" for o, t in pairs),
                            capture_output=True, text=True, check=True).stdout.split()
    return dict(zip(pairs, (float(v) for v in output)))


def score(args, build, rows):
    """SSIM of each kept output against a reference downscale of its original."""
    ssim = ssim_of(build, sorted({pair for row in rows for pair in row["kept"]}))
    for row in rows:
        values = [ssim[pair] for pair in row["kept"] if not math.isnan(ssim.get(pair, float("nan")))]
        row["ssim"] = sum(values) / len(values) if values else float("nan")
        row["ssim_n"] = len(values)


AVIF_LADDER = (60, 65, 70, 75, 80, 85, 90)  # our AVIF q values, to meet sharp's SSIM between two of them


def run_avif_ladder(args, peers, corpus, root, tmp):
    """Our AVIF (effort at its default) at each q of AVIF_LADDER on the 12 photos, 512x512 inside: kept
    for score_avif_ladder, which sets our bytes against sharp's at sharp's own SSIM."""
    rels = link_tree(corpus, root, "ladder", 1, SIZES[0])
    ladder = {}
    for q in AVIF_LADDER:
        keep_dir = os.path.join(tmp, "ladder", str(q))
        os.makedirs(keep_dir, exist_ok=True)
        paths = [query_path(rel, BOX, BOX, "avif", q) for rel in rels]
        results, _ = closed_loop(peers.ours.port, paths, args.miss_connections, 0, len(paths), keep_dir, len(paths))
        if any(status != 200 for status, *_ in results):
            sys.exit(f"peers.py: the AVIF ladder at q={q} failed: {summary(results, 1)['statuses']}")
        ladder[q] = [(original_of(corpus, rels[int(f)]), os.path.join(keep_dir, f)) for f in sorted(os.listdir(keep_dir))]
    return ladder


def score_avif_ladder(build, misses, ladder):
    """Bytes at equal SSIM: sharp's AVIF q65 outputs (its default effort) against ours on the q ladder, our
    mean bytes interpolated at sharp's mean SSIM over the same photos. None when sharp's row is missing."""
    sharp = find(misses, "AVIF q65", SHARP)
    if not sharp or not ladder:
        return None
    theirs = dict(sharp["kept"])  # original -> sharp's output
    ssim = ssim_of(build, [pair for q in AVIF_LADDER for pair in ladder[q] if pair[0] in theirs] + list(theirs.items()))

    def mean(values):
        return sum(values) / len(values)

    originals = sorted(theirs)
    target = mean([ssim[(o, theirs[o])] for o in originals])
    target_bytes = mean([os.path.getsize(theirs[o]) for o in originals])
    steps = []
    for q in AVIF_LADDER:
        mine = dict(ladder[q])
        steps.append((q, mean([ssim[(o, mine[o])] for o in originals]), mean([os.path.getsize(mine[o]) for o in originals])))
    result = {"photos": len(originals), "sharp_ssim": target, "sharp_bytes": target_bytes, "steps": steps}
    for (q0, s0, b0), (q1, s1, b1) in zip(steps, steps[1:]):
        if s0 <= target <= s1 and s1 > s0:
            t = (target - s0) / (s1 - s0)
            result.update(q=q0 + t * (q1 - q0), bytes=b0 + t * (b1 - b0))
    return result


def check(path, port, expect=None, headers=None):
    status, response_headers, body, _, _ = get(port, path, headers=headers)
    seen = response_headers.get("x-cache")
    if status != 200 or (expect and seen != expect):
        sys.exit(f"peers.py: {path} answered {status}, X-Cache {seen!r}; expected 200, {expect!r}")
    return body


def swift_start(tmp):
    """A local Swift with the S3 API (deploy/swift/start.sh): its environment, a Swift token and storage URL."""
    folder = os.path.join(tmp, "swift")
    output = subprocess.run(["bash", os.path.join(ROOT, "deploy", "swift", "start.sh"), folder],
                            capture_output=True, text=True)
    if output.returncode != 0:
        sys.exit("peers.py: Swift did not start:\n" + output.stderr[-3000:])
    env = dict(line.split("=", 1) for line in output.stdout.splitlines() if "=" in line)
    user, key = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    request = urllib.request.Request(env["IF_S3_ENDPOINT"] + "/auth/v1.0",
                                     headers={"X-Auth-User": user, "X-Auth-Key": key})
    with urllib.request.urlopen(request) as response:
        token, storage_url = response.headers["X-Auth-Token"], response.headers["X-Storage-Url"]
    return folder, env, token, storage_url


def swift_request(method, url, token, data=None):
    request = urllib.request.Request(url, data=data, method=method, headers={"X-Auth-Token": token})
    with urllib.request.urlopen(request) as response:
        return response.read()


def run_hits(args, binary, corpus, root, tmp):
    rows = []
    rel = link_tree(corpus, root, "hit", 1, SIZES[0])[0]
    path = query_path(rel, BOX, BOX, "webp", 75)

    def measure(label, server, port, url_path, expect, headers=(), pid=None):
        if expect is not None:
            check(url_path, port, expect, dict(h.split(": ", 1) for h in headers))
        trace = RssTrace(pid, 0.1) if pid else None
        if trace:
            trace.start()
        row = wrk(f"http://127.0.0.1:{port}{url_path}", args.hit_seconds, args.hit_connections, headers)
        row.update(workload=label, server=server, peak_rss=trace.stop() if trace else float("nan"),
                   xcache=expect or "")
        log(f"  {label:<30} {server:<16} {row['rps']:9.0f} r/s  p50 {row['p50']:7.2f} ms  p99 {row['p99']:7.2f} ms"
            f"  errors {row['errors']}")
        rows.append(row)
        return row

    # Memory, then the folder store with the memory tier off (the variant the first server stored).
    ours = Server(binary, root, [], os.path.join(tmp, "hits-memory.log"))
    try:
        variant = check(path, ours.port)
        measure("from memory", OURS, ours.port, path, "hit-memory", pid=ours.pid)
    finally:
        ours.stop()
    ours = Server(binary, root, ["--memory-cache-mb", "0"], os.path.join(tmp, "hits-store.log"))
    try:
        measure("from the folder store", OURS, ours.port, path, "hit-store", pid=ours.pid)
    finally:
        ours.stop()

    # nginx: the same bytes as a static file.
    port = free_port()
    config = nginx_static_config(tmp, port, variant)
    nginx = Process("nginx", ["nginx", "-c", config, "-p", tmp], port, os.path.join(tmp, "nginx.log"))
    try:
        check("/variant.webp", port)
        nginx_row = measure("from memory", "nginx static", port, "/variant.webp", None, pid=nginx.pid)
        rows.append(dict(nginx_row, workload="from the folder store", copy=True))  # one ceiling for both
    finally:
        nginx.stop()

    if args.no_s3:
        return rows
    # S3: the original in a local Swift; Image Flex with the memory tier off and on; a plain GET.
    log("  starting a local Swift (deploy/swift/start.sh)")
    swift_dir, swift_env, token, storage_url = swift_start(tmp)
    try:
        bucket = "imageflex-bench"
        swift_request("PUT", f"{storage_url}/{bucket}", token)
        with open(original_of(corpus, rel), "rb") as original:
            swift_request("PUT", f"{storage_url}/{bucket}/{rel}", token, original.read())
        env_before = dict(os.environ)
        os.environ.update(swift_env)  # the server inherits the S3 endpoint and credentials
        try:
            for label, flags, expect in (("S3, memory off", ["--memory-cache-mb", "0"], "hit-store"),
                                         ("S3, memory on", [], "hit-memory")):
                ours = Server(binary, root, ["--storage", f"s3://{bucket}", *flags],
                              os.path.join(tmp, f"hits-{expect}-s3.log"))
                try:
                    check(path, ours.port)  # makes the variant (once; the second server finds it stored)
                    measure(label, OURS, ours.port, path, expect, pid=ours.pid)
                finally:
                    ours.stop()
        finally:
            os.environ.clear()
            os.environ.update(env_before)
        listing = swift_request("GET", f"{storage_url}/{bucket}?format=json", token)
        objects = [o for o in json.loads(listing) if o["name"] != rel]
        # The stored variant: the object of the served variant's size, else the only other object.
        variants = [o["name"] for o in objects if o["bytes"] == len(variant)] or [o["name"] for o in objects]
        if not variants:
            sys.exit(f"peers.py: no stored variant in the bucket: {listing[:500]!r}")
        swift_port = int(swift_env["IF_S3_ENDPOINT"].rsplit(":", 1)[1])
        object_path = storage_url.split(f":{swift_port}", 1)[1] + f"/{bucket}/{variants[0]}"
        plain = measure("S3, memory off", "Swift plain GET", swift_port, object_path, None,
                        [f"X-Auth-Token: {token}"])
        rows.append(dict(plain, workload="S3, memory on", copy=True))
    finally:
        subprocess.run(["bash", os.path.join(ROOT, "deploy", "swift", "stop.sh"), swift_dir], capture_output=True)
    return rows


def run_cold(args, peers, corpus, root):
    """TTFB of 1200 px AVIF and WebP from a 5120x2880 JPEG: one request at a time, distinct photos."""
    rows = []
    rels = link_tree(corpus, root, "cold", 1, SIZES[1])[:args.cold]
    for fmt in ("avif", "webp"):
        for name, port, _, build_path in peers.each():
            ttfb, totals, sizes, types = [], [], [], set()
            for rel in rels:
                status, headers, body, first_byte, total = get(port, build_path(rel, 1200, None, fmt, None))
                if status != 200:
                    sys.exit(f"peers.py: cold {fmt} from {name} answered {status}: {body[:200]!r}")
                ttfb.append(first_byte * 1000)
                totals.append(total * 1000)
                sizes.append(len(body))
                types.add(headers.get("content-type", "?"))
            row = {"workload": f"cold 1200 px {fmt.upper()}", "server": name, "n": len(rels),
                   "p50": percentile(ttfb, 0.5), "max": max(ttfb), "total_p50": percentile(totals, 0.5),
                   "avg_bytes": sum(sizes) / len(sizes), "types": ", ".join(sorted(types))}
            log(f"  {row['workload']:<20} {name:<13} TTFB p50 {row['p50']:6.0f} ms  max {row['max']:6.0f} ms  "
                f"{row['types']}")
            rows.append(row)
    return rows


class SoakPaths:
    """The soak's requests, made as they are asked for: 70 % hits on the warm variants, 30 % misses,
    each a variant not asked for before (the photo, then the width, the format and q change)."""

    def __init__(self, hot, rels):
        self.hot, self.rels, self.random, self.misses = hot, rels, random.Random(9), 0

    def __len__(self):
        return 10**9

    def __getitem__(self, index):
        if self.random.random() < 0.7:
            return self.hot[self.random.randrange(len(self.hot))]
        return self.next_miss()

    def next_miss(self):
        m, self.misses = self.misses, self.misses + 1
        rel = self.rels[m % len(self.rels)]
        m //= len(self.rels)
        width, m = 200 + m % 1400, m // 1400
        fmt, m = ("jpeg", "webp", "avif")[m % 3], m // 3
        return query_path(rel, width, None, fmt, 70 - m)


def gauge(port, name):
    """One gauge of Image Flex's /_imageflex/metrics, or None."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_imageflex/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


SOAK_SETTLE = 1.5  # s: admission hands freed memory back 1 s after the last transform ends


def settled(server):
    """(RSS MiB, memory cache MiB) with no work in flight: called with the load paused, it waits for
    every transform (background AVIF included) to end, then for admission's hand-back. What a leak or
    fragmentation raises, without what the decodes in flight at the moment of a sample add (single
    samples under this load swing by a third: BENCHMARKS.md)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (gauge(server.port, "imageflex_transforms_running") or
                                           gauge(server.port, "imageflex_memory_admitted_bytes")):
        time.sleep(0.2)
    time.sleep(SOAK_SETTLE)
    return tree_rss(server.pid), (gauge(server.port, "imageflex_memory_cache_bytes") or 0) / 2**20


def fill_memory_cache(server, paths, tmp):
    """Fills Image Flex's memory cache with the soak's own kind of misses until it is full, as on a
    server that has been running: otherwise the first minute measures the cache filling (17 of its
    64 MiB after 60 s), and then small variants replacing the first ones, which is the cache doing
    its job, not the growth the soak looks for. At most five minutes."""
    capacity = gauge(server.port, "imageflex_memory_cache_capacity_bytes") or 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (gauge(server.port, "imageflex_memory_cache_bytes") or 0) < 0.98 * capacity:
        batch = [paths.next_miss() for _ in range(96)]
        closed_loop(server.port, batch, 4, 0, 0, tmp, at_least=len(batch))


def run_soak(args, binary, corpus, root, tmp):
    """Image Flex alone, its memory cache filled first: mixed hits and misses in a closed loop, RSS
    every SOAK_SAMPLE seconds, and settled RSS (settled()) after each minute, the load paused for it."""
    rels = link_tree(corpus, root, "soak", 1, SIZES[0]) + link_tree(corpus, root, "soak", 1, SIZES[1])
    ours = Server(binary, root, [], os.path.join(tmp, "soak.log"))
    minute = min(60.0, args.soak_seconds / 2)
    try:
        hot = [query_path(rel, BOX, BOX, fmt, None) for rel in rels[:12] for fmt in ("webp", "avif")]
        paths = SoakPaths(hot, rels)
        fill_memory_cache(ours, paths, tmp)
        for hot_path in hot:
            check(hot_path, ours.port)
        trace = RssTrace(ours.pid, args.soak_sample)
        trace.start()
        # Minute by minute, settled after each: the first minute's and the last are the target's.
        results, elapsed, steps = [], 0.0, []
        while elapsed < args.soak_seconds - 1:
            part, took = closed_loop(ours.port, paths, 4, min(minute, args.soak_seconds - elapsed), 0, tmp)
            results += part
            elapsed += took
            steps.append((elapsed, *settled(ours)))
        trace.stop()
    finally:
        ours.stop()
    row = summary(results, elapsed)
    after_minute = next((rss for t, rss in trace.trace if t >= minute - 0.5), trace.trace[-1][1])
    row.update(trace=trace.trace, peak_rss=trace.peak, rss_minute=after_minute, minute=minute,
               rss_end=trace.trace[-1][1], seconds=elapsed, settled_steps=steps,
               settled_minute=steps[0][1], settled_end=steps[-1][1], cache_minute=steps[0][2], cache_end=steps[-1][2])
    log(f"  soak: {row['rps']:.1f} r/s; settled RSS (memory cache) each minute: " +
        ", ".join(f"{rss:.0f} ({cache:.0f})" for _, rss, cache in steps) +
        f" MiB; single samples under load {after_minute:.0f} and {row['rss_end']:.0f} MiB, peak {row['peak_rss']:.0f} MiB")
    return row


# ---------------------------------------------------------------- report, targets, charts


def find(rows, workload, server):
    return next((r for r in rows if r["workload"] == workload and r["server"] == server), None)


def ratio(a, b):
    return a / b if b and b == b and a == a else float("nan")


def fmt(value, digits=0):
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def targets(misses, hits, soak, avif_equal):
    """(target, measured, PASS/MISS/REPORT) for each target of issue 9."""
    lines = []

    def verdict(ok):
        return "PASS" if ok else "MISS"

    for workload in ("JPEG q80", "WebP q75"):
        ours = find(misses, workload, OURS)
        for peer in (SHARP, IPX):
            theirs = find(misses, workload, peer)
            r = ratio(ours["rps"], theirs["rps"])
            lines.append((f"misses {workload}: r/s ≥ 1.2x {peer}", f"{r:.2f}x", verdict(r >= 1.2)))
            b = ratio(ours["avg_bytes"], theirs["avg_bytes"])
            lines.append((f"misses {workload}: bytes ≤ 1.02x {peer}", f"{b:.3f}x", verdict(b <= 1.02)))
            lines.append((f"misses {workload}: SSIM ≥ {peer}'s", f"{ours['ssim']:.4f} vs {theirs['ssim']:.4f}",
                          verdict(ours["ssim"] >= theirs["ssim"])))
    ours, sharp = find(misses, "AVIF q65", OURS), find(misses, "AVIF q65", SHARP)
    r = ratio(ours["rps"], sharp["rps"])
    lines.append((f"misses AVIF q65: r/s ≥ 4x {SHARP} (its default effort)", f"{r:.2f}x", verdict(r >= 4)))
    lines.append((f"misses AVIF q65: bytes and SSIM against {SHARP}",
                  f"{ratio(ours['avg_bytes'], sharp['avg_bytes']):.3f}x the bytes at SSIM {ours['ssim']:.4f} vs "
                  f"{sharp['ssim']:.4f}", "REPORT"))
    if avif_equal and "bytes" in avif_equal:
        lines.append((f"misses AVIF: bytes at {SHARP}'s SSIM ({avif_equal['sharp_ssim']:.4f}, q65 at its default "
                      f"effort)", f"{ratio(avif_equal['bytes'], avif_equal['sharp_bytes']):.3f}x ({avif_equal['bytes'] / 1024:.1f} "
                      f"vs {avif_equal['sharp_bytes'] / 1024:.1f} KiB, ours at q {avif_equal['q']:.0f})", "REPORT"))
    for workload, share in (("from memory", 0.7), ("from the folder store", 0.5)):
        ours, nginx = find(hits, workload, OURS), find(hits, workload, "nginx static")
        r = ratio(ours["rps"], nginx["rps"])
        lines.append((f"hits {workload}: r/s ≥ {share}x nginx", f"{r:.2f}x", verdict(r >= share)))
    ours, plain = find(hits, "S3, memory off", OURS), find(hits, "S3, memory off", "Swift plain GET")
    if ours and plain:
        lines.append(("hits from S3, memory off: p50 / p99 against a plain GET",
                      f"{ours['p50']:.1f} / {ours['p99']:.1f} ms vs {plain['p50']:.1f} / {plain['p99']:.1f} ms",
                      "REPORT"))
    ours, sharp = find(misses, "JPEG q80, 5120x2880", OURS), find(misses, "JPEG q80, 5120x2880", SHARP)
    lines.append((f"peak RSS, misses from 5120x2880 photos: ≤ {SHARP}'s",
                  f"{ours['peak_rss']:.0f} vs {sharp['peak_rss']:.0f} MiB", verdict(ours["peak_rss"] <= sharp["peak_rss"])))
    if soak:
        r = ratio(soak["settled_end"], soak["settled_minute"])
        lines.append((f"soak: RSS at the end at most 10% above RSS after {soak['minute']:.0f} s (settled: no work "
                      f"in flight)", f"{soak['settled_end']:.0f} vs {soak['settled_minute']:.0f} MiB ({r:.2f}x); memory "
                      f"cache {soak['cache_minute']:.0f} -> {soak['cache_end']:.0f} MiB; single samples under load "
                      f"{soak['rss_end']:.0f} vs {soak['rss_minute']:.0f} MiB", verdict(r <= 1.10)))
    lines.append(("server CPU per miss within 5% of the in-process pipeline",
                  "measured by bench/miss_cpu.sh (make bench runs it after this report): server CPU against the same misses in-process", "REPORT"))
    return lines


def write_dat(path, header, rows):
    with open(path, "w") as out:
        out.write(" ".join(f'"{h}"' for h in header) + "\n")
        for row in rows:
            out.write(" ".join(f'"{v}"' if isinstance(v, str) else ("-" if v != v else f"{v:.4g}") for v in row) + "\n")


def charts(misses, hits, cold, soak, folder, stamp):
    """PNG charts with gnuplot; returns their file names."""
    os.makedirs(folder, exist_ok=True)
    data = os.path.join(OUT, "charts")
    os.makedirs(data, exist_ok=True)
    labels = [w[0] for w in MISS_WORKLOADS]
    write_dat(f"{data}/rps_misses.dat", ["workload", *MISS_SERVERS],
              [[w, *(find(misses, w, s)["rps"] for s in MISS_SERVERS)] for w in labels])
    hit_labels = list(dict.fromkeys(r["workload"] for r in hits))
    reference = {w: ("Swift plain GET" if w.startswith("S3") else "nginx static") for w in hit_labels}
    write_dat(f"{data}/rps_hits.dat", ["workload", OURS, "nginx static / Swift plain GET"],
              [[w, find(hits, w, OURS)["rps"], (find(hits, w, reference[w]) or {"rps": float("nan")})["rps"]]
               for w in hit_labels])
    write_dat(f"{data}/latency_misses.dat", ["run", "p50", "p95", "p99"],
              [[f"{r['workload']} · {r['server']}", r["p50"], r["p95"], r["p99"]] for r in misses])
    write_dat(f"{data}/latency_hits.dat", ["run", "p50", "p95", "p99"],
              [[f"{r['workload']} · {r['server']}", r["p50"], r["p95"], r["p99"]]
               for r in hits if not r.get("copy")])
    cold_labels = list(dict.fromkeys(r["workload"] for r in cold))
    write_dat(f"{data}/ttfb_cold.dat", ["workload", *MISS_SERVERS],
              [[w, *(find(cold, w, s)["p50"] for s in MISS_SERVERS)] for w in cold_labels])
    names = {k: f"{stamp}-{k}.png" for k in ("rps_misses", "rps_hits", "latency_misses", "latency_hits",
                                             "ttfb_cold", "soak_rss")}
    script = [
        'set terminal pngcairo size 1100,560 font "DejaVu Sans,10"',
        'set style data histogram', 'set style histogram cluster gap 1', 'set style fill solid 0.85 border -1',
        'set boxwidth 0.9', 'set datafile missing "-"', 'set key top right', 'set grid ytics',
        'set xtics rotate by -25 left', 'set bmargin 7', 'set logscale y',
    ]

    def bars(name, dat, title, ylabel, columns, size=None):
        plot = ", ".join(f"'{data}/{dat}' using {c}{':xtic(1)' if i == 0 else ''} title columnheader({c})"
                         for i, c in enumerate(range(2, 2 + columns)))
        return ([f"set terminal pngcairo size {size} font \"DejaVu Sans,10\""] if size else []) + [
            f"set output '{folder}/{names[name]}'", f"set title '{title}'", f"set ylabel '{ylabel}'", f"plot {plot}"]

    script += bars("rps_misses", "rps_misses.dat", "Misses: fit into 512x512, requests/s (higher is better)",
                   "requests/s (log)", 3)
    script += bars("rps_hits", "rps_hits.dat", "Hits: requests/s against the same bytes from nginx or Swift",
                   "requests/s (log)", 2)
    script += ["set xtics rotate by -40 left", "set bmargin 12", "set rmargin 16", "set key outside top right"]
    script += bars("latency_misses", "latency_misses.dat", "Misses: latency percentiles", "ms (log)", 3,
                   "1700,700")
    script += bars("latency_hits", "latency_hits.dat", "Hits: latency percentiles", "ms (log)", 3, "1100,560")
    script += ["set xtics rotate by -25 left", "set bmargin 7", "set rmargin 14", "set key inside top right"]
    script += bars("ttfb_cold", "ttfb_cold.dat", "Cold: time to first byte, 1200 px from 5120x2880 JPEG (p50)",
                   "ms (log)", 3)
    if soak:
        with open(f"{data}/soak_rss.dat", "w") as out:
            out.write("".join(f"{t:.1f} {rss:.1f}\n" for t, rss in soak["trace"]))
        script += ["unset logscale y", "unset style", "set style data linespoints", "set xtics norotate",
                   "set bmargin 4", f"set output '{folder}/{names['soak_rss']}'",
                   "set title 'Soak: Image Flex RSS under mixed hits and misses'", "set xlabel 'seconds'",
                   "set ylabel 'RSS MiB'", "set yrange [0:*]",
                   f"plot '{data}/soak_rss.dat' using 1:2 with linespoints title 'RSS' lw 2"]
    else:
        del names["soak_rss"]
    with open(f"{data}/charts.gp", "w") as out:
        out.write("\n".join(script) + "\n")
    subprocess.run(["gnuplot", f"{data}/charts.gp"], check=True)
    return names


def report(args, context, misses, hits, cold, soak, verdicts, chart_names, chart_folder, avif_equal=None):
    lines = [
        f"### Side by side with the peers{': ' + args.label if args.label else ''} — {context['when']} UTC, "
        f"imageflex {context['commit']}{' (quick mode: a check of the harness, not figures to quote)' if args.quick else ''}",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, {machine_memory()}; load average before: "
        f"{context['load']}. Peers: sharp {context['sharp']} (libvips {context['sharp_vips']}), ipx {context['ipx']}, "
        f"{context['nginx']}; ours: libvips {context['vips']}. Corpus: {context['corpus']}.",
        f"Command: `{context['command']}` (misses: {args.miss_connections} connections for {args.miss_seconds} s per "
        f"server and workload in {args.miss_rounds} interleaved rounds, at least {args.miss_at_least} requests; hits: wrk, 2 threads, {args.hit_connections} connections, {args.hit_seconds} s; "
        f"SSIM over the first {args.keep} outputs of each run).",
        "",
        "Misses (fit into 512x512, every request a new variant; avg KiB over the photos all three servers "
        "answered in that workload):",
        "",
        "| workload | server | req/s | p50 ms | p95 ms | p99 ms | peak RSS MiB | CPU ms/req | avg KiB | SSIM "
        "| ours/peer req/s | ours/peer bytes | statuses |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in misses:
        ours = find(misses, r["workload"], OURS)
        rel = "" if r["server"] == OURS else f"{ratio(ours['rps'], r['rps']):.2f}x"
        rel_bytes = "" if r["server"] == OURS else f"{ratio(ours['avg_bytes'], r['avg_bytes']):.3f}x"
        lines.append(f"| {r['workload']} | {r['server']} | {fmt(r['rps'], 1)} | {fmt(r['p50'])} | {fmt(r['p95'])} "
                     f"| {fmt(r['p99'])} | {fmt(r['peak_rss'])} | {fmt(r['cpu_ms'], 1)} | {fmt(r['avg_bytes'] / 1024, 1)} "
                     f"| {fmt(r['ssim'], 4)} | {rel} | {rel_bytes} | {r['statuses']} |")
    if not misses:
        lines = lines[:-5]
    if avif_equal:
        lines += ["", f"AVIF at equal SSIM: {SHARP}'s q65 at its default effort against ours (`--avif-effort`'s "
                  f"default) on a q ladder, the same {avif_equal['photos']} photos, SSIM as above:", "",
                  "| | q | SSIM | avg KiB |", "|---|--:|--:|--:|",
                  f"| {SHARP} | 65 | {avif_equal['sharp_ssim']:.4f} | {avif_equal['sharp_bytes'] / 1024:.1f} |"]
        lines += [f"| {OURS} | {q} | {ssim_value:.4f} | {size / 1024:.1f} |" for q, ssim_value, size in avif_equal["steps"]]
        if "bytes" in avif_equal:
            lines.append(f"| {OURS}, interpolated at {SHARP}'s SSIM | {avif_equal['q']:.1f} | {avif_equal['sharp_ssim']:.4f} "
                         f"| {avif_equal['bytes'] / 1024:.1f} ({ratio(avif_equal['bytes'], avif_equal['sharp_bytes']):.2f}x) |")
    lines += [] if not hits else ["", "Hits (wrk; X-Cache checked before each Image Flex run):", "",
              "| workload | server | X-Cache | req/s | p50 ms | p95 ms | p99 ms | peak RSS MiB | errors | ours/reference |",
              "|---|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in hits:
        if r.get("copy"):
            lines.append(f"| {r['workload']} | {r['server']} | | (the run above) | | | | | | |")
            continue
        if r["server"] == OURS:
            reference = next((h for h in hits if h["workload"] == r["workload"] and h["server"] != OURS), None)
            rel = f"{ratio(r['rps'], reference['rps']):.2f}x {reference['server']}" if reference else ""
        else:
            rel = ""
        lines.append(f"| {r['workload']} | {r['server']} | {r['xcache']} | {fmt(r['rps'])} | {fmt(r['p50'], 2)} "
                     f"| {fmt(r['p95'], 2)} | {fmt(r['p99'], 2)} | {fmt(r['peak_rss'])} | {r['errors']} | {rel} |")
    lines += [] if not cold else ["", "Cold: one request at a time, each server at its defaults, distinct 5120x2880 "
                                  "photos, w=1200:", "",
              "| workload | server | n | TTFB p50 ms | TTFB max ms | total p50 ms | avg KiB | content type |",
              "|---|---|--:|--:|--:|--:|--:|---|"]
    for r in cold:
        lines.append(f"| {r['workload']} | {r['server']} | {r['n']} | {fmt(r['p50'])} | {fmt(r['max'])} "
                     f"| {fmt(r['total_p50'])} | {fmt(r['avg_bytes'] / 1024, 1)} | {r['types']} |")
    if soak:
        lines += ["", f"Soak (Image Flex alone, {soak['seconds']:.0f} s, 4 connections, 70 % hits on 24 warm "
                  "variants, 30 % misses at random widths and formats; RSS every "
                  f"{args.soak_sample} s): {soak['n']} requests, {soak['rps']:.1f} r/s, p50 {fmt(soak['p50'])} ms, "
                  f"p99 {fmt(soak['p99'])} ms [{soak['statuses']}]. Settled RSS each minute (the load paused, no "
                  f"transform running, then {SOAK_SETTLE} s), MiB, the memory cache's bytes in brackets: " +
                  ", ".join(f"{t:.0f} s {rss:.0f} ({cache:.0f})" for t, rss, cache in soak["settled_steps"]) +
                  f". Single samples under load: {soak['rss_minute']:.0f} MiB after "
                  f"{soak['minute']:.0f} s, {soak['rss_end']:.0f} MiB at the end; peak {soak['peak_rss']:.0f} MiB."]
    if verdicts:
        lines += ["", "Targets (issue 9):", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {t} | {m} | **{v}** |" for t, m, v in verdicts]
    if chart_names:
        rel_folder = os.path.relpath(chart_folder, ROOT)
        lines += ["", "Charts: " + ", ".join(f"[{k.replace('_', ' ')}]({rel_folder}/{n})" for k, n in chart_names.items()),
                  ""]
        lines += [f"![{k.replace('_', ' ')}]({rel_folder}/{n})" for k, n in list(chart_names.items())[:2]]
    return "\n".join(lines) + "\n"


def main():
    quick = os.environ.get("BENCH_QUICK", "0") == "1"
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.environ.get("BUILD", "build"))
    parser.add_argument("--corpus", default=os.path.join(OUT, "corpus"))
    parser.add_argument("--quick", action="store_true", default=quick, help="short runs (also BENCH_QUICK=1)")
    parser.add_argument("--only", choices=("misses", "hits", "cold", "soak"), action="append",
                        help="run only these parts (repeatable); the targets need all of them")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (local Swift) hits")
    parser.add_argument("--label", default="", help="a name for this run in the report")
    parser.add_argument("--record", action="store_true",
                        help="append the report to BENCHMARKS.md and draw the charts into docs/bench/")
    args = parser.parse_args()
    args.miss_seconds = env_number("MISS_SECONDS", 4.0 if args.quick else 12.0)
    args.hit_seconds = env_number("HIT_SECONDS", 3 if args.quick else 10)
    args.soak_seconds = env_number("SOAK_SECONDS", 60.0 if args.quick else 600.0)
    args.soak_sample = env_number("SOAK_SAMPLE", 10.0)
    args.cold = env_number("COLD_COUNT", 2 if args.quick else 6)
    args.keep = env_number("SSIM_COUNT", 4 if args.quick else 12)
    # A slow server still gets a request per photo (sharp's AVIF: ~4 s each), so its bytes and
    # SSIM cover the same pictures as the others'.
    args.miss_at_least = env_number("MISS_AT_LEAST", 4 if args.quick else 12)
    args.miss_connections = env_number("MISS_CONNECTIONS", 2)
    args.miss_rounds = int(env_number("MISS_ROUNDS", 2 if args.quick else 4))
    args.hit_connections = env_number("HIT_CONNECTIONS", 64)
    args.max_miss_rate = env_number("MAX_MISS_RATE", 120.0)
    parts = set(args.only or ("misses", "hits", "cold", "soak"))

    for tool in ("node", "npm", "wrk", "nginx", "gnuplot"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"peers.py: {tool} is missing (bash scripts/install_deps.sh bench)")
    build, binary = binary_of(args.build)
    npm_ci()
    corpus = corpus_dir(build, args.corpus)
    context = {
        "when": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        "commit": commit_text(), "load": " ".join(open("/proc/loadavg").read().split()[:3]),
        "sharp": package_version("sharp"), "ipx": package_version("ipx"),
        "sharp_vips": subprocess.run(["node", "-p", "require('sharp').versions.vips"], cwd=PEERS_DIR,
                                     capture_output=True, text=True).stdout.strip(),
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split(": ")[-1],
        "vips": subprocess.run(["pkg-config", "--modversion", "vips-cpp"], capture_output=True,
                               text=True).stdout.strip() or "?",
        "corpus": open(os.path.join(corpus, "SOURCE")).read().strip(),
        "command": " ".join(filter(None, [measured_environment(), "BENCH_QUICK=1" if args.quick else "",
                                          "python3 bench/peers.py", *sys.argv[1:]])),
    }
    os.makedirs(OUT, exist_ok=True)
    # A folder on the corpus' file system, so the originals can be hard-linked.
    tmp = os.path.join(OUT, f"peers-run-{os.getpid()}")
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    os.chmod(tmp, 0o755)  # nginx's workers may run as another user
    misses = hits = cold = []
    soak = avif_equal = None
    ladder = {}
    try:
        if parts & {"misses", "cold"}:
            peers = Peers(binary, root, tmp)
            try:
                # Untimed first requests, alike for every server: two rounds of the 12 photos in JPEG,
                # WebP and AVIF on the miss workloads' 2 connections (V8's JIT, thread pools, and the
                # allocator's arenas, which each hold their own pages for a progressive JPEG's
                # coefficients: without this the first workload measured our warm-up, 38 ms of CPU
                # per JPEG miss against 29 later in the same run).
                warm = link_tree(corpus, root, "warm", 2, SIZES[0])
                for name, port, _, build_path in peers.each():
                    paths = [build_path(rel, BOX, BOX, f, None) for f in ("jpeg", "webp", "avif") for rel in warm]
                    results, _ = closed_loop(port, paths, args.miss_connections, 0, 0, tmp, len(paths))
                    if any(status != 200 for status, *_ in results):
                        sys.exit(f"peers.py: {name} failed its warm-up: {summary(results, 1)['statuses']}")
                if "misses" in parts:
                    log(f"misses: {len(MISS_WORKLOADS)} workloads x 3 servers x {args.miss_seconds:g} s")
                    misses = run_misses(args, peers, corpus, root, tmp)
                    log(f"AVIF ladder: ours at q {AVIF_LADDER[0]}..{AVIF_LADDER[-1]} on the 12 photos")
                    ladder = run_avif_ladder(args, peers, corpus, root, tmp)
                if "cold" in parts:
                    log(f"cold: {args.cold} photos x 2 formats x 3 servers")
                    cold = run_cold(args, peers, corpus, root)
            finally:
                peers.stop()
            if misses:
                log("SSIM of the kept outputs")
                score(args, build, misses)
                avif_equal = score_avif_ladder(build, misses, ladder)
        if "hits" in parts:
            log(f"hits: wrk {args.hit_seconds} s each")
            hits = run_hits(args, binary, corpus, root, tmp)
        if "soak" in parts:
            log(f"soak: {args.soak_seconds:g} s")
            soak = run_soak(args, binary, corpus, root, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    complete = parts == {"misses", "hits", "cold", "soak"}
    verdicts = targets(misses, hits, soak, avif_equal) if complete else []
    stamp = context["when"].replace(" ", "-").replace(":", "")
    chart_folder = os.path.join(ROOT, "docs", "bench") if args.record else os.path.join(OUT, "charts")
    chart_names = charts(misses, hits, cold, soak, chart_folder, stamp) if complete else {}
    text = report(args, context, misses, hits, cold, soak, verdicts, chart_names, chart_folder, avif_equal)
    print()
    print(text)
    with open(os.path.join(OUT, "peers.json"), "w") as out:
        json.dump({"context": context, "misses": [{k: v for k, v in r.items() if k not in ("kept", "per_photo")}
                                                  for r in misses],
                   "hits": hits, "cold": cold, "soak": soak}, out, indent=1, default=str)
    append_report(text, args.record)
    if args.record:
        print("appended to BENCHMARKS.md; charts in docs/bench/")


if __name__ == "__main__":
    main()
