"""Helpers the benchmarks share (bench/shield.py, bench/peers.py): an HTTP client that measures each
request, open- and closed-loop load, the Image Flex server process, memory and CPU of a process, and
the figures and machine facts a report names.
"""

import asyncio
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCEPT = "image/avif,image/webp,*/*"


def env_number(name, default):
    return type(default)(os.environ.get(name, default))


# ---------------------------------------------------------------- HTTP, one request per connection


class Result:
    __slots__ = ("status", "latency", "retry_after", "error")

    def __init__(self, status=0, latency=0.0, retry_after=False, error=""):
        self.status, self.latency, self.retry_after, self.error = status, latency, retry_after, error


async def fetch(port, path, timeout, started=None):
    """GET on a new connection; reads the whole response. Latency from `started` (default: now)."""
    started = time.monotonic() if started is None else started
    writer = None
    try:
        async def exchange():
            nonlocal writer
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {ACCEPT}\r\n"
                         "Connection: close\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            return status, "retry-after" in headers

        status, retry_after = await asyncio.wait_for(exchange(), timeout)
        return Result(status, time.monotonic() - started, retry_after)
    except asyncio.TimeoutError:
        return Result(0, time.monotonic() - started, error="timeout")
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
        return Result(0, time.monotonic() - started, error=type(error).__name__)
    finally:
        if writer is not None:
            writer.close()


async def open_loop(port, paths, rate, stop, timeout, results):
    """Sends paths[i % len] at `rate` per second until stop() is true, without waiting for answers."""
    tasks, start, i = [], time.monotonic(), 0
    while not stop():
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(fetch(port, paths[i % len(paths)], timeout, started=due)))
        i += 1
    results.extend(await asyncio.gather(*tasks))


async def closed_loop(port, paths, connections, seconds, timeout):
    """`connections` clients, each sending the next path as soon as its last one is answered."""
    results, next_path, end = [], 0, time.monotonic() + seconds

    async def client():
        nonlocal next_path
        while time.monotonic() < end and next_path < len(paths):
            path = paths[next_path]
            next_path += 1
            results.append(await fetch(port, path, timeout))

    start = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    return results, time.monotonic() - start


# ---------------------------------------------------------------- the server and its memory


def read_status(pid):
    """VmRSS and VmHWM of a process, MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                values[name] = int(value.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid):
    """User and system CPU time of a process so far: the cost of work, whatever else runs on the machine."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


class RssSampler:
    """Samples VmRSS every 100 ms in the background: the highest and the latest value."""

    def __init__(self, pid):
        self.pid, self.peak, self.task = pid, 0.0, None

    async def run(self):
        while True:
            rss, _ = read_status(self.pid)
            self.peak = max(self.peak, rss)
            await asyncio.sleep(0.1)

    def start(self):
        self.task = asyncio.ensure_future(self.run())

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


class Server:
    def __init__(self, binary, root, flags, log_path):
        self.log_path = log_path
        env = dict(os.environ, IF_ACCESS_LOG="false")
        self.log = open(log_path, "w")
        self.process = subprocess.Popen([binary, "serve", "--root", root, "--listen", "127.0.0.1:0", *flags],
                                        stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.process.pid
        self.port = None
        for _ in range(200):
            with open(log_path) as text:
                found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", text.read())
            if found:
                self.port = int(found.group(1))
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            sys.exit(f"{os.path.basename(sys.argv[0])}: the server did not start:\n" + open(log_path).read())

    def warnings(self):
        with open(self.log_path) as text:
            return sum(1 for line in text if '"level":"warn"' in line or '"level":"error"' in line)

    def stop(self):
        stop_process(self.process, self.log)


# ---------------------------------------------------------------- figures


def percentile(values, share):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(share * len(ordered) + 0.999999) - 1))]


def ms(seconds):
    return f"{seconds * 1000:.0f}" if seconds == seconds else "–"


def statuses(results):
    counts = {}
    for r in results:
        key = str(r.status) if r.status else r.error
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{key}: {counts[key]}" for key in sorted(counts))


def latency_cells(results):
    """p50, p99 and max of the answered requests; timeouts count as their time."""
    latencies = [r.latency for r in results]
    return ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.99)), ms(max(latencies, default=float("nan")))


def machine_memory():
    with open("/proc/meminfo") as meminfo:
        total = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read()).group(1)) / 1024
    text = f"{total / 1024:.0f} GiB RAM"
    try:
        with open("/sys/fs/cgroup/memory.max") as limit:
            value = limit.read().strip()
        if value != "max":
            text += f", cgroup limit {int(value) / 2**20:.0f} MiB"
    except OSError:
        pass
    return text


def cpu_model():
    found = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    return found.group(1) if found else "?"


def commit_text():
    """The short commit of the checkout, and whether it has uncommitted changes."""
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    if subprocess.run(["git", "-C", ROOT, "--no-optional-locks", "status", "--porcelain"], capture_output=True,
                      text=True).stdout.strip():
        commit += " (with uncommitted changes)"
    return commit


def measured_environment():
    """The settings in the environment that reach the servers and change what is measured."""
    return " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                    if k in ("LD_PRELOAD", "MALLOC_CONF", "GLIBC_TUNABLES") or k.startswith("MALLOC_")
                    or (k.startswith("IF_") and k != "IF_ACCESS_LOG"))


def corpus_dir(build, corpus):
    """bench/corpus.sh's folder of large real photos, made on first use."""
    return subprocess.run(["bash", os.path.join(ROOT, "bench", "corpus.sh"), corpus], check=True,
                          capture_output=True, text=True, env=dict(os.environ, BUILD=build)).stdout.split()[-1]


def binary_of(build):
    """The imageflex binary of a build folder (relative to the checkout), or exit."""
    build = build if os.path.isabs(build) else os.path.join(ROOT, build)
    binary = os.path.join(build, "imageflex")
    if not os.access(binary, os.X_OK):
        sys.exit(f"{os.path.basename(sys.argv[0])}: {binary} is missing; run 'make build' first")
    return build, binary


def stop_process(process, log):
    """Ends a server the benchmark started (TERM, then KILL after 30 s) and closes its log."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.close()


def append_report(text, record):
    """Appends a run's report to bench/out/results.md, and to BENCHMARKS.md when recording."""
    os.makedirs(os.path.join(ROOT, "bench", "out"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "out", "results.md"), "a") as results:
        results.write(text + "\n")
    if record:
        with open(os.path.join(ROOT, "BENCHMARKS.md"), "a") as benchmarks:
            benchmarks.write("\n" + text)


def nginx_static_config(tmp, port, body):
    """nginx (Debian's) serving BODY as /variant.webp from TMP/static on 127.0.0.1:PORT, the ceiling
    for a hit: sendfile, open_file_cache, a worker per core, no access log. Returns the config's path
    (run it with `nginx -c CONFIG -p TMP`)."""
    static = os.path.join(tmp, "static")
    os.makedirs(static, exist_ok=True)
    with open(os.path.join(static, "variant.webp"), "wb") as out:
        out.write(body)
    config = os.path.join(tmp, "nginx.conf")
    with open(config, "w") as out:
        out.write(f"""worker_processes auto;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=100 inactive=60s;
  types {{ image/webp webp; }}
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  server {{ listen 127.0.0.1:{port}; root {static}; }}
}}
""")
    return config
