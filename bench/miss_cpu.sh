#!/usr/bin/env bash
# Server overhead on a miss (issue 9's target: CPU per request within 5% of the same transform
# in-process). Sends N misses to a server it starts, reads the server's CPU seconds (user+sys,
# /proc/PID/stat fields 14 and 15) before and after, and compares them with the CPU that
# pipeline_bench --cpu-of=N takes for the same N variants in-process:
#
#   bash bench/miss_cpu.sh [N=48] [FORMAT=jpeg]     BUILD=build, IF_BENCH_CORPUS=bench/out/corpus/2560x1600
#   CONCURRENCY=2 bash bench/miss_cpu.sh 240 jpeg   the misses two at a time (as bench/peers.py sends
#                                                   them); MALLOC_CONF=... reaches the server too
#   CALLGRIND=1 bash bench/miss_cpu.sh 12 jpeg      also counts instructions (valgrind --tool=callgrind):
#                                                   the server's over the N misses, and in-process the
#                                                   difference of runs of 2N and N (both start the same)
#
# Miss i is photo i mod 12 (sorted by name), fit inside (512 - (i / 12) mod 256) x 512 at JPEG q80,
# WebP q75 or AVIF q65: every request a new variant, the same list pipeline_bench makes.
# Requests go one at a time unless CONCURRENCY says otherwise: CPU, not wall-clock, is compared
# (this machine is shared). The server's page faults per miss are printed too: on this VM a
# fault costs microseconds, and a miss can take hundreds (BENCHMARKS.md, "Page faults on a miss").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
count=${1:-48}
format=${2:-jpeg}
build=${BUILD:-build}
corpus=${IF_BENCH_CORPUS:-bench/out/corpus/2560x1600}
case $format in jpeg) quality=80 ;; webp) quality=75 ;; avif) quality=65 ;; *) echo "format: jpeg, webp or avif" >&2; exit 2 ;; esac
[ -x "$build/imageflex" ] && [ -x "$build/bench/pipeline_bench" ] ||
  { echo "miss_cpu.sh: build imageflex and pipeline_bench first" >&2; exit 1; }
[ -d "$corpus" ] || corpus=$(bash bench/corpus.sh | tail -1)/2560x1600
corpus=$(cd "$corpus" && pwd)
export IF_BENCH_CORPUS=$corpus

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/root"
cp "$corpus"/*.jpg "$tmp/root/"
mapfile -t photos < <(cd "$corpus" && ls -- *.jpg | LC_ALL=C sort)

wrapper=()
extra=()
if [ "${CALLGRIND:-0}" = 1 ]; then
  # libhwy (under libvips' JPEG XL module) reads the TSC with rdtscp, which valgrind cannot
  # run: libvips loads its modules from $VIPSHOME/lib, so offer it only the HEIF one (AVIF).
  mkdir -p "$tmp/vipshome/lib/vips-modules-8.14"
  ln -s "$(pkg-config --variable=libdir vips)/vips-modules-8.14/vips-heif.so" "$tmp/vipshome/lib/vips-modules-8.14/"
  export VIPSHOME=$tmp/vipshome
  extra=(--deadline-ms 600000)  # valgrind runs it 50 times slower
  wrapper=(valgrind --tool=callgrind --collect-atstart=no "--callgrind-out-file=$tmp/server.callgrind")
fi
IF_ACCESS_LOG=false "${wrapper[@]}" "$build/imageflex" serve --root "$tmp/root" --listen 127.0.0.1:0 "${extra[@]}" \
  >"$tmp/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 600); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$tmp/server.log" | head -1 || true)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "miss_cpu.sh: the server did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }

# user+sys clock ticks of the server so far (the fields after the ")" of the command name).
server_ticks() { sed 's/.*) //' "/proc/$server_pid/stat" | awk '{ print $12 + $13 }'; }
# Minor and major page faults of the server so far (fields 10 and 12).
server_faults() { sed 's/.*) //' "/proc/$server_pid/stat" | awk '{ print $8 + $10 }'; }
get() {
  local code
  code=$(curl -s -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$port/$1")
  [ "$code" = 200 ] || { echo "miss_cpu.sh: /$1 answered $code: $(head -c 200 "$tmp/body")" >&2; exit 1; }
}

# Warm: the first miss pays libvips' and the allocator's set-up, and the originals' probes.
for photo in "${photos[@]}"; do get "$photo?w=100&f=$format&q=$quality"; done
[ "${CALLGRIND:-0}" = 1 ] && callgrind_control -i on "$server_pid" >/dev/null
concurrency=${CONCURRENCY:-1}
# Client k of `concurrency` sends misses k, k + concurrency, ...
send_misses() {
  for ((i = $1; i < count; i += concurrency)); do
    get "${photos[$((i % ${#photos[@]}))]}?w=$((512 - (i / ${#photos[@]}) % 256))&h=512&fit=inside&f=$format&q=$quality"
  done
}
before=$(server_ticks)
faults_before=$(server_faults)
clients=()
for ((k = 0; k < concurrency; k++)); do
  send_misses "$k" &
  clients+=($!)
done
for client in "${clients[@]}"; do wait "$client" || { echo "miss_cpu.sh: a client failed" >&2; exit 1; }; done
after=$(server_ticks)
faults=$(($(server_faults) - faults_before))
hz=$(getconf CLK_TCK)
server_cpu=$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN { printf "%.3f", t / hz }')
if [ "${CALLGRIND:-0}" = 1 ]; then
  callgrind_control -i off "$server_pid" >/dev/null
  callgrind_control -d "$server_pid" >/dev/null
fi

inprocess_cpu=$("$build/bench/pipeline_bench" --cpu-of="$count" --format="$format" | awk '{ print $2 }')
echo "$count $format misses (fit inside ~512x512, q$quality), $concurrency at a time to the server, CPU user+sys:"
awk -v s="$server_cpu" -v p="$inprocess_cpu" -v n="$count" -v f="$faults" 'BEGIN {
  printf "  server      %.3f s  %.1f ms per miss, %.0f page faults per miss\n", s, s * 1000 / n, f / n
  printf "  in-process  %.3f s  %.1f ms per miss (one at a time)\n", p, p * 1000 / n
  printf "  server / in-process: %.3f (target <= 1.05; ticks are 1/100 s, so use N >= 48)\n", s / p
}'

if [ "${CALLGRIND:-0}" = 1 ]; then
  total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'; }
  server_ir=0
  for f in "$tmp"/server.callgrind*; do
    [ -s "$f" ] && server_ir=$((server_ir + $(total "$f")))
  done
  valgrind --tool=callgrind "--callgrind-out-file=$tmp/one.callgrind" \
    "$build/bench/pipeline_bench" --cpu-of="$count" --format="$format" >/dev/null 2>&1
  valgrind --tool=callgrind "--callgrind-out-file=$tmp/two.callgrind" \
    "$build/bench/pipeline_bench" --cpu-of="$((2 * count))" --format="$format" >/dev/null 2>&1
  inprocess_ir=$(($(total "$tmp/two.callgrind") - $(total "$tmp/one.callgrind")))
  awk -v s="$server_ir" -v p="$inprocess_ir" -v n="$count" 'BEGIN {
    printf "  instructions per miss: server %.1f M, in-process %.1f M, ratio %.3f\n", s / n / 1e6, p / n / 1e6, s / p
  }'
  [ -n "${KEEP_CALLGRIND:-}" ] && cp "$tmp"/*.callgrind* "$KEEP_CALLGRIND"/
fi
