#!/usr/bin/env python3
"""What one miss really costs in memory, in the server: the figures behind src/image/cost.cpp.

    python3 bench/job_memory.py [PHOTO ...]      (default: Altai, Flow, SafeLanding)

For each photo of bench/corpus.sh's 5120x2880 set and each (format, width), starts a fresh
`build/imageflex serve --memory-cache-mb 0` with MALLOC_CONF=dirty_decay_ms:0 (so freed pages
do not linger), asks for that one variant, and prints VmHWM less the VmRSS before it, in MiB
(compare with estimate_memory in src/image/cost.cpp). The photos are hard-linked into a
temporary root, so the corpus stays clean.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

JOBS = (("avif", 4000), ("avif", 2000), ("webp", 4000), ("jpeg", 4000))


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, value = line.split(":", 1)
            if value.strip().endswith("kB"):
                fields[name] = int(value.split()[0]) >> 10
    return fields


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_job(binary, folder, photo, fmt, width):
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        os.link(os.path.join(folder, photo), os.path.join(tmp, photo))
        server = subprocess.Popen([binary, "serve", "--root", tmp, "--listen", f"127.0.0.1:{port}",
                                   "--memory-cache-mb", "0"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, MALLOC_CONF="dirty_decay_ms:0"))
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_imageflex/health", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.05)
            before = status(server.pid)["VmRSS"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{photo}?w={width}&f={fmt}", timeout=120) as r:
                body = r.read()
            return status(server.pid)["VmHWM"] - before, len(body)
        finally:
            server.terminate()
            server.wait()


def main():
    binary = os.path.join(ROOT, os.environ.get("BUILD", "build"), "imageflex")
    corpus = subprocess.run(["bash", os.path.join(ROOT, "bench", "corpus.sh")], capture_output=True, text=True,
                            check=True).stdout.split()[-1]
    folder = os.path.join(corpus, "5120x2880")
    photos = sys.argv[1:] or ["Altai.jpg", "Flow.jpg", "SafeLanding.jpg"]
    print("| photo | " + " | ".join(f"{f} {w}" for f, w in JOBS) + " |")
    print("|---|" + "--:|" * len(JOBS))
    for photo in photos:
        cells = [f"{one_job(binary, folder, photo, f, w)[0]}" for f, w in JOBS]
        print(f"| {photo} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
