#!/usr/bin/env python3
"""Interleaved A/B of hits on this (shared, noisy) machine: several servers are started side by
side and measured in turns, round after round (the order reversed every other round), with the
same request and wrk settings as bench/peers.py's hits (wrk, 2 threads, 64 connections, a 512x512
WebP q75 of a 2560x1600 photo). Each turn reports requests/s, p50, and the CPU per request the
server itself used (user + system, children included): the figure to trust when other work
shares the cores, since requests/s moves with whatever else runs. Medians at the end.

  python3 bench/hits_ab.py [--seconds 8] [--rounds 5] [--nginx] [--photo JPEG] \\
      NAME=BINARY[:EXTRA FLAGS] ...

Every Image Flex server runs with --memory-cache-mb 0 (store hits) unless its extra flags say
otherwise (the last flag wins); each gets a folder of its own holding the one photo. --nginx adds
bench/peers.py's nginx (sendfile, open_file_cache) serving the same variant bytes.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from benchlib import ROOT, nginx_static_config, stop_process

LUA = os.path.join(ROOT, "bench", "peers", "wrk_report.lua")
PATH = "/hit/photo.jpg?w=512&h=512&fit=inside&f=webp&q=75"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User and system CPU of a process and of its children (nginx's workers)."""
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0.0
    for one in [pid, *map(int, kids)]:
        fields = open(f"/proc/{one}/stat").read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def wrk(url, seconds):
    output = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--timeout", "10s", "-s", LUA, url],
                            capture_output=True, text=True, check=True).stdout
    figures = json.loads([line for line in output.splitlines() if line.startswith("{")][-1])
    return (figures["requests"] / (figures["duration_us"] / 1e6), figures["p50"] / 1000, figures["requests"],
            figures["errors"] + figures["non2xx"])


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return response.read(), response.headers.get("X-Cache", "")


def wait_ready(port, path):
    for _ in range(200):
        try:
            return get(port, path)
        except OSError:
            time.sleep(0.05)
    return get(port, path)


def start_ours(name, spec, port, photo, tmp):
    binary, _, extra = spec.partition(":")
    root = os.path.join(tmp, name)
    os.makedirs(os.path.join(root, "hit"))
    shutil.copy(photo, os.path.join(root, "hit", "photo.jpg"))
    log = open(os.path.join(tmp, f"{name}.log"), "w")
    process = subprocess.Popen([binary, "serve", "--root", root, "--listen", f"127.0.0.1:{port}",
                                "--memory-cache-mb", "0", *extra.split()],
                               stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, IF_ACCESS_LOG="false"))
    wait_ready(port, PATH)  # made and stored
    body, cache = get(port, PATH)
    print(f"{name}: {binary} {extra} answers X-Cache: {cache}", flush=True)
    return process, log, body


def start_nginx(port, body, tmp):
    config = nginx_static_config(tmp, port, body)
    log = open(os.path.join(tmp, "nginx.log"), "w")
    return subprocess.Popen(["nginx", "-c", config, "-p", tmp], stdout=log, stderr=subprocess.STDOUT), log


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("servers", nargs="+", help="NAME=BINARY[:EXTRA FLAGS]")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nginx", action="store_true")
    parser.add_argument("--photo", default=os.path.join(ROOT, "bench", "out", "corpus", "2560x1600", "Autumn.jpg"))
    parser.add_argument("--port", type=int, default=19450, help="the first of consecutive ports")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="hits-ab-")
    os.chmod(tmp, 0o755)  # nginx's workers run as another user
    running = {}  # name: (process, log, port, path)
    try:
        port = args.port
        body = None
        for spec in args.servers:
            name, spec = spec.split("=", 1)
            process, log, body = start_ours(name, spec, port, args.photo, tmp)
            running[name] = (process, log, port, PATH)
            port += 1
        if args.nginx:
            process, log = start_nginx(port, body, tmp)
            running["nginx"] = (process, log, port, "/variant.webp")  # stopped below, even if it fails
            wait_ready(port, "/variant.webp")
        turns = {name: [] for name in running}
        for round_number in range(args.rounds):
            order = list(running) if round_number % 2 == 0 else list(reversed(running))
            for name in order:
                process, _, port, path = running[name]
                before = cpu_seconds(process.pid)
                rps, p50, requests, errors = wrk(f"http://127.0.0.1:{port}{path}", args.seconds)
                cpu_us = (cpu_seconds(process.pid) - before) / max(1, requests) * 1e6
                turns[name].append((rps, p50, cpu_us))
                print(f"round {round_number} {name:<10} {rps:8.0f} r/s  p50 {p50:6.2f} ms  "
                      f"CPU {cpu_us:6.1f} us/request  errors {errors}", flush=True)
        median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
        for name, rows in turns.items():
            print(f"median {name:<10} {median([r[0] for r in rows]):8.0f} r/s  p50 {median([r[1] for r in rows]):6.2f} ms"
                  f"  CPU {median([r[2] for r in rows]):6.1f} us/request")
    finally:
        for process, log, _, _ in running.values():
            stop_process(process, log)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
