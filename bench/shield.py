#!/usr/bin/env python3
"""The shield benchmarks (issue 8): memory under a storm of large misses, and overload.

    python3 bench/shield.py [--only storm|overload|nonreaders] [options] [-- extra server flags]

1. Memory storm: STORM_COUNT (32) concurrent misses of 5120x2880 JPEGs to AVIF at w=4000 (distinct
   variants), each on its own connection, while small requests (a warm 200 px WebP, open-loop at
   SIDE_RATE per second) and the health endpoint (every 100 ms) run beside them. Reports peak RSS
   (VmHWM) against the memory budget, the small requests' and health's latencies, the misses'
   statuses and throughput, and RSS at the end, 10 s and SETTLE s (60) after the storm.
2. Overload: the sustainable miss rate first (2560x1600 JPEGs to WebP at distinct widths, a fixed
   number of connections in a closed loop), then an open-loop client at 2x that rate for
   OVERLOAD_SECONDS (30). Reports the share of 503s (and how many had Retry-After), the p99 of the
   admitted (200) requests, health latency sampled every 100 ms (p50, p99, max), and peak RSS.

3. Non-readers: NON_READERS (200) clients, each on its own connection with a small receive buffer, ask
   for the largest 5120x2880 original and never read; then the same for a large variant (PNG, w=2000)
   served from the memory cache. Reports RSS before, its peak over NON_READER_SECONDS (5) and the growth
   per client beside the body's size (a copy per client would be the whole body), and health's latency
   meanwhile.

Latencies of open-loop requests are measured from when each was due to be sent, so a client that
falls behind does not hide queueing (no coordinated omission). Every request goes to 127.0.0.1, to
servers this script starts and stops. The server inherits the environment: allocator settings
(LD_PRELOAD, MALLOC_ARENA_MAX, MALLOC_CONF) and IF_* settings are measured as given, and named in
the report. Prints Markdown; appends it to bench/out/results.md, and with --record to BENCHMARKS.md.
"""

import argparse
import asyncio
import datetime
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from benchlib import (ROOT, RssSampler, append_report, Server, binary_of, closed_loop, commit_text, corpus_dir, cpu_model,
                      cpu_seconds, env_number, fetch, latency_cells, machine_memory, measured_environment,
                      open_loop, read_status, statuses)

HEALTH = "/_imageflex/health"


def server_help(binary):
    return subprocess.run([binary, "--help"], capture_output=True, text=True).stdout


def memory_budget(binary, flags):
    """The memory budget the server runs with, as text, or what it would be compared with instead."""
    help_text = server_help(binary)
    if "--memory-budget-mb" not in help_text:
        return None, "no --memory-budget-mb setting in this build"
    for i, flag in enumerate(flags):
        if flag.startswith("--memory-budget-mb"):
            value = flag.split("=", 1)[1] if "=" in flag else flags[i + 1]
            return value, f"--memory-budget-mb {value}"
    if "IF_MEMORY_BUDGET_MB" in os.environ:
        value = os.environ["IF_MEMORY_BUDGET_MB"]
        return value, f"IF_MEMORY_BUDGET_MB={value}"
    match = re.search(r"--memory-budget-mb\s+\S+\s+\[([^\]]*)\]", help_text)
    default = match.group(1) if match else "?"
    return default, f"default {default}"


# ---------------------------------------------------------------- the two benchmarks


def corpus_paths(corpus, size):
    names = sorted(n for n in os.listdir(os.path.join(corpus, size)) if n.endswith(".jpg"))
    return [f"/{size}/{name}" for name in names]


def make_root(corpus, tmp, name):
    root = os.path.join(tmp, name)
    for size in ("2560x1600", "5120x2880"):
        shutil.copytree(os.path.join(corpus, size), os.path.join(root, size))
    shutil.copy(os.path.join(ROOT, "samples", "landscape.jpg"), root)
    return root


async def storm(args, binary, corpus, tmp, flags):
    server = Server(binary, make_root(corpus, tmp, "storm"), flags, os.path.join(tmp, "storm.log"))
    try:
        side_path = "/landscape.jpg?w=200&f=webp"
        warm = await fetch(server.port, side_path, 30)  # makes the variant: later ones are memory hits
        if warm.status != 200:
            sys.exit(f"shield.py: {side_path} answered {warm.status or warm.error}")
        await asyncio.sleep(2)
        rss_start, _ = read_status(server.pid)
        photos = corpus_paths(corpus, "5120x2880")
        # Distinct variants: each photo at w=4000, then 3990, 3980, ... for the next round.
        misses = [f"{photos[i % len(photos)]}?w={args.storm_width - 10 * (i // len(photos))}&f=avif"
                  for i in range(args.storm_count)]
        sampler = RssSampler(server.pid)
        sampler.start()
        done = False
        side, health = [], []
        background = [
            asyncio.ensure_future(open_loop(server.port, [side_path], args.side_rate, lambda: done, 30, side)),
            asyncio.ensure_future(open_loop(server.port, [HEALTH], 10, lambda: done, 30, health)),
        ]
        started, cpu_before = time.monotonic(), cpu_seconds(server.pid)
        storm_results = await asyncio.gather(*(fetch(server.port, path, args.timeout) for path in misses))
        elapsed = time.monotonic() - started
        done = True
        await asyncio.gather(*background)
        cpu = tuple(after - before for after, before in zip(cpu_seconds(server.pid), cpu_before))
        await sampler.stop()
        rss_end, hwm = read_status(server.pid)
        await asyncio.sleep(10)
        rss_10, _ = read_status(server.pid)
        await asyncio.sleep(max(0, args.settle - 10))
        rss_settled, _ = read_status(server.pid)
        warnings = server.warnings()
    finally:
        server.stop()
    made = sum(1 for r in storm_results if r.status == 200)
    budget, budget_text = memory_budget(binary, flags)
    return {
        "misses": storm_results, "elapsed": elapsed, "cpu": cpu, "made": made, "side": side, "health": health,
        "rss_start": rss_start, "hwm": hwm, "peak_sampled": sampler.peak, "rss_end": rss_end, "rss_10": rss_10,
        "rss_settled": rss_settled, "budget": budget, "budget_text": budget_text, "warnings": warnings,
    }


async def overload(args, binary, corpus, tmp, flags):
    server = Server(binary, make_root(corpus, tmp, "overload"), flags, os.path.join(tmp, "overload.log"))
    try:
        photos = corpus_paths(corpus, "2560x1600")
        # Distinct WebP variants: every photo at 400 px, then 401, ...: each request is a miss.
        widths = iter(range(400, 2400))
        paths = [f"{photo}?w={width}&f=webp" for width in widths for photo in photos]
        calibration, seconds = await closed_loop(server.port, paths, args.connections, args.calibrate_seconds,
                                                 args.timeout)
        sustainable = sum(1 for r in calibration if r.status == 200) / seconds
        if sustainable <= 0:
            sys.exit("shield.py: no miss succeeded while measuring the sustainable rate: "
                     + statuses(calibration))
        rate = 2 * sustainable
        remaining = paths[len(calibration):]
        await asyncio.sleep(2)  # the calibration's stragglers
        sampler = RssSampler(server.pid)
        sampler.start()
        end = time.monotonic() + args.overload_seconds
        results, health = [], []
        await asyncio.gather(
            open_loop(server.port, remaining, rate, lambda: time.monotonic() >= end, args.timeout, results),
            open_loop(server.port, [HEALTH], 10, lambda: time.monotonic() >= end, 30, health))
        await sampler.stop()
        _, hwm = read_status(server.pid)
        warnings = server.warnings()
    finally:
        server.stop()
    return {"calibration": calibration, "calibration_seconds": seconds, "sustainable": sustainable, "rate": rate,
            "results": results, "health": health, "hwm": hwm, "warnings": warnings}


async def non_readers(args, binary, corpus, tmp, flags):
    photos = sorted(corpus_paths(corpus, "5120x2880"),
                    key=lambda path: os.path.getsize(os.path.join(corpus, path.lstrip("/"))))
    original = photos[-1]
    variant = f"{original}?w=2000&f=png"
    # The client's cut must not come while the memory is measured.
    server = Server(binary, make_root(corpus, tmp, "nonreaders"), ["--send-timeout-ms", "60000", *flags],
                    os.path.join(tmp, "nonreaders.log"))
    rows = []
    try:
        for label, path in (("original", original), ("memory hit, PNG w=2000", variant)):
            first = await fetch(server.port, path, args.timeout)
            again = await fetch(server.port, path, args.timeout)  # the variant is a memory hit now
            if first.status != 200 or again.status != 200:
                sys.exit(f"shield.py: {path} answered {first.status or first.error}, {again.status or again.error}")
            length, x_cache = head_of(server.port, path)
            await asyncio.sleep(1)
            rss_before, _ = read_status(server.pid)
            clients = []
            for _ in range(args.non_readers):
                client = socket.socket()
                client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                client.connect(("127.0.0.1", server.port))
                client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                clients.append(client)
            sampler = RssSampler(server.pid)
            sampler.start()
            health = []
            end = time.monotonic() + args.non_reader_seconds
            await open_loop(server.port, [HEALTH], 10, lambda: time.monotonic() >= end, 30, health)
            await sampler.stop()
            answered = sum(1 for client in clients if client.recv(12).startswith(b"HTTP/1.1 200"))
            for client in clients:
                client.close()
            rows.append({"label": label, "path": path, "bytes": length, "x_cache": x_cache,
                         "rss_before": rss_before, "peak": sampler.peak, "answered": answered, "health": health})
            await asyncio.sleep(2)  # the closed connections let go of what they held
        warnings = server.warnings()
    finally:
        server.stop()
    return {"rows": rows, "warnings": warnings}


def head_of(port, path):
    """The Content-Length and X-Cache of a HEAD of `path`."""
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                break
            head += chunk
    fields = dict(line.split(":", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ":" in line)
    fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
    return int(fields.get("content-length", "0")), fields.get("x-cache", "")


# ---------------------------------------------------------------- the report


def storm_report(args, s):
    lines = []
    budget = s["budget"]
    try:
        budget_cell = f"{float(budget):.0f} MiB ({s['budget_text']}); peak is {100 * s['hwm'] / float(budget):.0f} %"
    except (TypeError, ValueError):
        budget_cell = f"{s['budget_text']}; the machine has {machine_memory()}"
    lines += [
        f"Memory storm: {args.storm_count} concurrent misses, 5120x2880 JPEG → AVIF at w≤{args.storm_width} "
        f"(distinct variants), beside a warm 200 px WebP at {args.side_rate:g}/s and health every 100 ms.",
        "",
        "| misses | statuses | storm s | misses/s | server CPU s (user+sys) | RSS before MiB | peak RSS (VmHWM) MiB | RSS at end MiB "
        f"| RSS +10 s MiB | RSS +{args.settle} s MiB | budget |",
        "|-------:|----------|--------:|---------:|------------------------:|---------------:|--------------------:|---------------:"
        "|--------------:|--------------:|--------|",
        f"| {args.storm_count} | {statuses(s['misses'])} | {s['elapsed']:.1f} | {s['made'] / s['elapsed']:.2f} "
        f"| {s['cpu'][0]:.0f}+{s['cpu'][1]:.0f} | {s['rss_start']:.0f} | {s['hwm']:.0f} | {s['rss_end']:.0f} | {s['rss_10']:.0f} "
        f"| {s['rss_settled']:.0f} | {budget_cell} |",
        "",
        "| beside the storm | n | statuses | p50 ms | p99 ms | max ms |",
        "|------------------|--:|----------|-------:|-------:|-------:|",
    ]
    for label, results in (("warm 200 px WebP (hit-memory)", s["side"]), ("health", s["health"])):
        lines.append(f"| {label} | {len(results)} | {statuses(results)} | {' | '.join(latency_cells(results))} |")
    lines += ["", f"Warn/error log lines: {s['warnings']}."]
    return lines


def overload_report(args, o):
    results = o["results"]
    admitted = [r for r in results if r.status == 200]
    rejected = [r for r in results if r.status == 503]
    with_retry = sum(1 for r in rejected if r.retry_after)
    share = 100 * len(rejected) / len(results) if results else 0
    p50, p99, worst = latency_cells(admitted)
    h50, h99, hmax = latency_cells(o["health"])
    budget, budget_text = o["budget"]
    return [
        f"Overload: 2560x1600 JPEG → WebP misses at distinct widths. Sustainable rate: "
        f"{o['sustainable']:.1f}/s ({len(o['calibration'])} requests from {args.connections} closed-loop "
        f"connections in {o['calibration_seconds']:.1f} s: {statuses(o['calibration'])}); then open-loop at "
        f"{o['rate']:.1f}/s (2x) for {args.overload_seconds} s, health every 100 ms.",
        "",
        "| sent | statuses | 503 share | 503 with Retry-After | admitted (200) p50 ms | p99 ms | max ms "
        "| health p50 ms | p99 ms | max ms | peak RSS MiB | budget |",
        "|-----:|----------|----------:|---------------------:|----------------------:|-------:|-------:"
        "|--------------:|-------:|-------:|-------------:|--------|",
        f"| {len(results)} | {statuses(results)} | {share:.0f} % | {with_retry} of {len(rejected)} | {p50} | {p99} "
        f"| {worst} | {h50} | {h99} | {hmax} | {o['hwm']:.0f} | {budget_text if budget else 'none: ' + budget_text} |",
        "",
        f"Health: {len(o['health'])} samples, {statuses(o['health'])}. Warn/error log lines: {o['warnings']}.",
    ]


def non_readers_report(args, n):
    lines = [
        f"Non-readers: {args.non_readers} clients (4 KiB receive buffers) ask for a large body and never read; "
        f"RSS sampled every 100 ms for {args.non_reader_seconds:g} s, health every 100 ms meanwhile.",
        "",
        "| body | bytes | X-Cache | answered 200 | RSS before MiB | peak RSS MiB | growth MiB "
        "| a copy each would be MiB | health p50 ms | p99 ms | max ms |",
        "|------|------:|---------|-------------:|---------------:|-------------:|-----------:"
        "|-------------------------:|--------------:|-------:|-------:|",
    ]
    for row in n["rows"]:
        h50, h99, hmax = latency_cells(row["health"])
        lines.append(
            f"| {row['label']} | {row['bytes']} | {row['x_cache'] or '-'} | {row['answered']} of {args.non_readers} "
            f"| {row['rss_before']:.0f} | {row['peak']:.0f} | {row['peak'] - row['rss_before']:.0f} "
            f"| {args.non_readers * row['bytes'] / 2**20:.0f} | {h50} | {h99} | {hmax} |")
    lines += ["", f"Warn/error log lines: {n['warnings']}."]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.environ.get("BUILD", "build"))
    parser.add_argument("--corpus", default=os.path.join(ROOT, "bench", "out", "corpus"))
    parser.add_argument("--only", choices=("storm", "overload", "nonreaders"))
    parser.add_argument("--storm-count", type=int, default=env_number("STORM_COUNT", 32))
    parser.add_argument("--storm-width", type=int, default=4000)
    parser.add_argument("--side-rate", type=float, default=env_number("SIDE_RATE", 20.0))
    parser.add_argument("--settle", type=int, default=env_number("SETTLE", 60), help="seconds after the storm")
    parser.add_argument("--connections", type=int, default=8, help="closed-loop clients for the sustainable rate")
    parser.add_argument("--calibrate-seconds", type=float, default=env_number("CALIBRATE_SECONDS", 15.0))
    parser.add_argument("--overload-seconds", type=int, default=env_number("OVERLOAD_SECONDS", 30))
    parser.add_argument("--non-readers", type=int, default=env_number("NON_READERS", 200))
    parser.add_argument("--non-reader-seconds", type=float, default=env_number("NON_READER_SECONDS", 5.0))
    parser.add_argument("--timeout", type=float, default=120.0, help="client timeout per image request, s")
    parser.add_argument("--label", default="", help="a name for this configuration in the report")
    parser.add_argument("--record", action="store_true", help="also append the report to BENCHMARKS.md")
    parser.add_argument("flags", nargs="*", help="extra server flags (after --)")
    args = parser.parse_args()

    build, binary = binary_of(args.build)
    corpus = corpus_dir(build, args.corpus)
    load_before = open("/proc/loadavg").read().split()[:3]
    tmp = tempfile.mkdtemp(prefix="shield-")
    try:
        storm_figures = overload_figures = non_reader_figures = None
        if args.only in (None, "storm"):
            print(f"memory storm: {args.storm_count} misses, then {args.settle} s of rest", flush=True)
            storm_figures = asyncio.run(storm(args, binary, corpus, tmp, args.flags))
        if args.only in (None, "overload"):
            print(f"overload: calibrate {args.calibrate_seconds:g} s, then 2x for {args.overload_seconds} s",
                  flush=True)
            overload_figures = asyncio.run(overload(args, binary, corpus, tmp, args.flags))
            overload_figures["budget"] = memory_budget(binary, args.flags)
        if args.only in (None, "nonreaders"):
            print(f"non-readers: {args.non_readers} clients of a large original, then of a memory hit", flush=True)
            non_reader_figures = asyncio.run(non_readers(args, binary, corpus, tmp, args.flags))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    commit = commit_text()
    environment = measured_environment()
    command = "python3 bench/shield.py " + " ".join(sys.argv[1:])
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        f"### Shield{': ' + args.label if args.label else ''} — {now:%Y-%m-%d %H:%M} UTC, "
        f"imageflex {commit}",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, {machine_memory()}; load average before: "
        f"{' '.join(load_before)}. Corpus: {open(os.path.join(corpus, 'SOURCE')).read().strip()}.",
        f"Command: `{(environment + ' ') if environment else ''}{command.strip()}`"
        f"{' (server flags: ' + ' '.join(args.flags) + ')' if args.flags else ''}.",
        "",
    ]
    if storm_figures:
        lines += storm_report(args, storm_figures) + [""]
    if overload_figures:
        lines += overload_report(args, overload_figures) + [""]
    if non_reader_figures:
        lines += non_readers_report(args, non_reader_figures) + [""]
    report = "\n".join(lines)
    print()
    print(report)
    append_report(report, args.record)
    if args.record:
        print("appended to BENCHMARKS.md")


if __name__ == "__main__":
    main()
