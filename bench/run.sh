#!/usr/bin/env bash
# The benchmarks `make bench` runs after the build (see BENCHMARKS.md). First Image Flex alone:
#   1. originals served as they are          wrk, fixed duration
#   2. a warm variant from the memory cache  wrk (X-Cache: hit-memory)
#   3. a warm variant from the store         wrk, server started with --memory-cache-mb 0 (X-Cache: hit-store)
#   4. cold transforms                       distinct variants one at a time with curl: first-request latency,
#                                            and large AVIFs negotiated from Accept: first byte, WebP then AVIF
#   5. peak RSS of each server               VmHWM from /proc/PID/status after its runs
# then side by side with the peers (bench/peers.py: a sharp origin, ipx and nginx on the same
# photos; misses, hits, cold first bytes, a 10-minute soak; ~17 min), the shield benchmarks
# (bench/shield.py: a memory storm of 32 large AVIF misses, and overload at twice the sustainable
# miss rate; ~4 min) and, when asked, the quality sweep (bench/quality.sh --quick). Prints
# Markdown tables and appends them, with the date, the machine and the commands, to
# bench/out/results.md.
#
# Every request goes to 127.0.0.1, to servers this script starts and stops. Knobs:
#   BUILD=build  BENCH_DURATION=8 (s per wrk run, <= 10)  BENCH_CONNECTIONS=32  BENCH_COLD=20 (per format)
#   BENCH_QUICK=1: a quick check of the whole harness (~5 min): short runs, a 1-minute soak, no shield.
#   BENCH_PEERS=0 skips the side by side; its knobs (MISS_SECONDS, HIT_SECONDS, SOAK_SECONDS, ...) are in peers.py.
#   BENCH_SHIELD=0 skips the shield benchmarks; their own knobs (STORM_COUNT=32, SETTLE=60,
#   CALIBRATE_SECONDS=15, OVERLOAD_SECONDS=30) are in shield.py.
#   BENCH_RECORD=1 also appends the side by side's and the shield's reports to BENCHMARKS.md.
#   BENCH_QUALITY=1 adds the quick quality sweep (2-4 min; it chose the defaults, it compares no peer).
#   BENCH_EDGE=0 skips the edge overhead (bench/edge.sh, ~4 min: a node alone vs edge cache hits over
#   HTTP and HTTPS, with and without ModSecurity, and misses through the edge; BENCH_EDGE_ROUNDS=3).
#   BENCH_PIPELINE=0 skips the in-process pipeline benchmark (bench/pipeline_bench.cpp) and the
#   server-CPU-per-miss comparison (bench/miss_cpu.sh); BENCH_PIPELINE_MIN_TIME=1 (s per case).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
bin=$build/imageflex
out=bench/out
quick=${BENCH_QUICK:-0}
# The server's CPU per miss (bench/miss_cpu.sh): 1200 misses in 10 rounds, about 2 minutes;
# fewer leave the pooled figure to this VM's spells of host load (BENCHMARKS.md, stop 23).
if [ "$quick" = 1 ]; then
  duration=${BENCH_DURATION:-3}
  cold_per_format=${BENCH_COLD:-5}
  shield=${BENCH_SHIELD:-0}
  miss_cpu_rounds=3
  miss_cpu_count=48
else
  duration=${BENCH_DURATION:-8}
  cold_per_format=${BENCH_COLD:-20}
  shield=${BENCH_SHIELD:-1}
  miss_cpu_rounds=10
  miss_cpu_count=120
fi
connections=${BENCH_CONNECTIONS:-32}
threads=2
[ "$duration" -le 10 ] || { echo "run.sh: BENCH_DURATION is capped at 10 s" >&2; exit 2; }
[ -x "$bin" ] || { echo "run.sh: $bin is missing; run 'make build' first" >&2; exit 1; }
mkdir -p "$out"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: wrk is missing (sudo apt-get install wrk)" >&2
    exit 1
  fi
  echo "installing wrk"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null; }
fi
command -v curl >/dev/null || { echo "run.sh: curl is missing" >&2; exit 1; }
if ! command -v python3 >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "run.sh: python3 is missing (sudo apt-get install python3)" >&2; exit 1; }
  echo "installing python3"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 >/dev/null
fi

started_at=$(date +%s)
photos_dir=$(bash bench/quality.sh --fetch-only | tail -1)

# The served root: the samples and the photos. Variants get stored here too, so it is
# a fresh folder each run: every "cold" variant really is cold.
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
cp samples/*.jpg samples/*.png samples/*.gif "$tmp/root/"
cp "$photos_dir"/*.jpg "$tmp/root/"

# Starts the server with extra flags; sets server_pid and port.
start_server() {
  local log=$1
  shift
  : >"$log"  # exists before the background job opens it, for the polling below
  IF_ACCESS_LOG=false "$bin" serve --root "$tmp/root" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  server_pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1 || true)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "run.sh: the server did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# Peak and current resident memory of the running server, MiB.
memory_of_server() {
  awk '/^VmHWM:/ { hwm = $2 } /^VmRSS:/ { rss = $2 } END { printf "%.1f %.1f", hwm / 1024, rss / 1024 }' \
    "/proc/$server_pid/status"
}

# The X-Cache header a GET gets, to check that a warm run hits what it claims to.
cache_outcome() {
  curl -s -o /dev/null -D - "$1" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { print $2 }'
}

# One wrk run; appends a Markdown row. wrk prints latencies as 812.00us, 1.20ms or 1.05s.
wrk_rows=()
wrk_commands=()
run_wrk() {
  local label=$1 path=$2 expect=$3 seen
  local url="http://127.0.0.1:$port$path"
  seen=$(cache_outcome "$url")
  if [ "$seen" != "$expect" ]; then
    echo "run.sh: $url answered X-Cache '$seen', expected '$expect'" >&2
    exit 1
  fi
  local command="wrk -t$threads -c$connections -d${duration}s --latency '$url'"
  wrk_commands+=("$command")
  echo "  $label: $command"
  local report
  report=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$url")
  wrk_rows+=("$(awk -v label="$label" -v path="$path" -v xcache="$expect" '
    function ms(text) {
      if (text ~ /us$/) return substr(text, 1, length(text) - 2) / 1000
      if (text ~ /ms$/) return substr(text, 1, length(text) - 2) + 0
      if (text ~ /s$/) return substr(text, 1, length(text) - 1) * 1000
      return text + 0
    }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 } $1 == "Transfer/sec:" { transfer = $2 }
    /Non-2xx or 3xx responses:/ { bad += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { v = $i; sub(",", "", v); bad += v } }
    END { printf "| %s | `%s` | %s | %.0f | %.2f | %.2f | %s | %d |", label, path, xcache, rps, p50, p99, transfer, bad }
  ' <<<"$report")")
}

# Cold variants one at a time: the latency a first visitor sees. run_cold FORMAT COUNT
# [WIDTH]: without WIDTH, widths spread over 300..800 across the photos; with it, that
# width for each photo in turn. Each (photo, width, format) is asked for once.
cold_rows=()
cold_commands=()
run_cold() {
  local format=$1 count=$2 fixed_width=${3:-} i photo width path result code seconds bytes times=() sizes=() names=()
  for f in "$photos_dir"/*.jpg; do names+=("$(basename "$f")"); done
  for ((i = 0; i < count; i++)); do
    photo=${names[$((i % ${#names[@]}))]}
    width=${fixed_width:-$((300 + (i * 500) / (count > 1 ? count - 1 : 1)))}
    path="/$photo?w=$width&f=$format"
    result=$(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "http://127.0.0.1:$port$path")
    read -r code seconds bytes <<<"$result"
    if [ "$code" != 200 ]; then
      echo "run.sh: $path answered $code" >&2
      exit 1
    fi
    times+=("$seconds")
    sizes+=("$bytes")
  done
  local widths=${fixed_width:-300..800}
  cold_commands+=("curl -s -o /dev/null -w '%{time_total}' 'http://127.0.0.1:$port/PHOTO.jpg?w=W&f=$format'  (W = $widths, $count requests)")
  cold_rows+=("$(printf '%s\n' "${times[@]}" | sort -g | awk -v format="$format" -v widths="$widths" -v sizes="${sizes[*]}" '
    { t[NR] = $1 * 1000; sum += $1 * 1000 }
    END {
      n = split(sizes, s, " "); for (i = 1; i <= n; i++) bytes += s[i]
      p50 = t[int((NR + 1) / 2)]; p95 = t[int(NR * 0.95 + 0.999)]
      printf "| JPEG → %s | %s | %d | %.0f | %.0f | %.0f | %.0f | %.1f |", toupper(format), widths, NR, p50, p95, t[NR],
             sum / NR, bytes / n / 1024
    }')")
}

# A browser asking for large AVIFs (no f=: negotiated from Accept), each photo at w=2400 (or
# its own width): the time to the first byte of the first answer and its type (WebP when the
# AVIF is over --avif-budget-ms), then the type a second request gets once the background AVIF
# is made (polled for up to 30 s).
first_byte_rows=()
run_first_bytes() {
  local photo path result code seconds type again _
  for photo in "$photos_dir"/*.jpg; do
    path="/$(basename "$photo")?w=2400"
    result=$(curl -s -o /dev/null -H 'Accept: image/avif,image/webp,*/*' \
      -w '%{http_code} %{time_starttransfer} %{content_type}' "http://127.0.0.1:$port$path")
    read -r code seconds type <<<"$result"
    [ "$code" = 200 ] || { echo "run.sh: $path answered $code" >&2; exit 1; }
    again=$type
    for _ in $(seq 150); do
      again=$(curl -s -o /dev/null -H 'Accept: image/avif,image/webp,*/*' -w '%{content_type}' "http://127.0.0.1:$port$path")
      [ "$again" = image/avif ] && break
      sleep 0.2
    done
    first_byte_rows+=("$(awk -v p="$path" -v s="$seconds" -v t="$type" -v a="$again" \
      'BEGIN { printf "| `%s` | %.0f | %s | %s |", p, s * 1000, t, a }')")
  done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Settings the servers inherit from the environment (IF_QUALITY_AVIF=..., IF_AVIF_EFFORT=...).
settings=$(env | grep '^IF_' | grep -v '^IF_ACCESS_LOG=' | sort | tr '\n' ' ' | sed 's/ $//' || true)
echo "HTTP benchmark: $bin, $threads wrk threads, $connections connections, ${duration} s per run"

# Server A: the default configuration (64 MiB memory cache).
start_server "$tmp/server-a.log"
run_wrk "1. original" "/landscape.jpg" "original"
curl -s -o /dev/null "http://127.0.0.1:$port/Dune.jpg?w=400&f=webp"  # makes the variant
run_wrk "2. warm, memory cache" "/Dune.jpg?w=400&f=webp" "hit-memory"
echo "  cold transforms: $cold_per_format WebP and $cold_per_format AVIF variants, then AVIF at 1200 px, one at a time"
run_cold webp "$cold_per_format"
run_cold avif "$cold_per_format"
run_cold avif 6 1200  # the width the AVIF effort budget is set for (bench/quality.sh)
echo "  large AVIF misses negotiated from Accept: first byte (--avif-budget-ms serves WebP, then AVIF)"
run_first_bytes
read -r hwm_a rss_a <<<"$(memory_of_server)"
stats_a=$(curl -s "http://127.0.0.1:$port/_imageflex/stats")
stop_server
errors_a=$(grep -c '"level":"\(warn\|error\)"' "$tmp/server-a.log" || true)

# Server B: no memory cache, so a warm variant comes from the store (here the filesystem).
start_server "$tmp/server-b.log" --memory-cache-mb 0
run_wrk "3. warm, store" "/Dune.jpg?w=400&f=webp" "hit-store"
read -r hwm_b rss_b <<<"$(memory_of_server)"
stop_server
errors_b=$(grep -c '"level":"\(warn\|error\)"' "$tmp/server-b.log" || true)

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git --no-optional-locks status --porcelain 2>/dev/null)" ] || commit="$commit (with uncommitted changes)"
report=$out/http_report.md
{
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — imageflex $commit"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; load average before: $load_before."
  echo "Command: \`make bench\` (= \`bash bench/run.sh\`; BENCH_DURATION=$duration BENCH_CONNECTIONS=$connections BENCH_COLD=$cold_per_format), server: \`IF_ACCESS_LOG=false $bin serve --root TMP --listen 127.0.0.1:0 [--memory-cache-mb 0]\`${settings:+ with $settings from the environment}."
  echo
  echo "| run | path | X-Cache | req/s | p50 ms | p99 ms | transfer/s | errors |"
  echo "|-----|------|---------|------:|-------:|-------:|-----------:|-------:|"
  printf '%s\n' "${wrk_rows[@]}"
  echo
  echo "4. Cold transforms, one request at a time (first-request latency; decode + resize + encode + store):"
  echo
  echo "| conversion | width | n | p50 ms | p95 ms | max ms | mean ms | mean KiB |"
  echo "|------------|-------|--:|-------:|-------:|-------:|--------:|---------:|"
  printf '%s\n' "${cold_rows[@]}"
  echo
  echo "Large AVIF misses negotiated from Accept (\`curl -H 'Accept: image/avif,image/webp,*/*' -w '%{time_starttransfer}'\`):"
  echo
  echo "| path | first byte ms | served first | served next |"
  echo "|------|--------------:|--------------|-------------|"
  printf '%s\n' "${first_byte_rows[@]}"
  echo
  echo "5. Peak memory:"
  echo
  echo "| server | runs | VmHWM MiB | VmRSS MiB at end | warn/error log lines |"
  echo "|--------|------|----------:|-----------------:|---------------------:|"
  echo "| A: defaults (64 MiB memory cache) | 1, 2, 4 | $hwm_a | $rss_a | $errors_a |"
  echo "| B: --memory-cache-mb 0 | 3 | $hwm_b | $rss_b | $errors_b |"
  echo
  echo "Server A's counters after its runs: \`$stats_a\`"
  echo
  echo "Commands:"
  echo
  echo '```'
  printf '%s\n' "${wrk_commands[@]}" "${cold_commands[@]}"
  echo '```'
} >"$report"
echo
cat "$report"

if [ "${BENCH_PEERS:-1}" != 0 ]; then
  echo
  peers_args=()
  [ "${BENCH_RECORD:-0}" = 1 ] && peers_args+=(--record)
  # Writes its own report to bench/out/results.md (and BENCHMARKS.md with --record), charts to
  # bench/out/charts/ (docs/bench/ with --record).
  BENCH_QUICK=$quick python3 bench/peers.py --build "$build" "${peers_args[@]}"
fi

if [ "$shield" != 0 ]; then
  echo
  shield_args=()
  [ "${BENCH_RECORD:-0}" = 1 ] && shield_args+=(--record)
  # Writes its own report to bench/out/results.md (and BENCHMARKS.md with --record).
  python3 bench/shield.py --build "$build" "${shield_args[@]}"
fi

if [ "${BENCH_EDGE:-1}" != 0 ]; then
  echo
  # Writes its own report to bench/out/results.md.
  BUILD=$build BENCH_DURATION=$duration BENCH_CONNECTIONS=$connections \
    BENCH_EDGE_ROUNDS=${BENCH_EDGE_ROUNDS:-$([ "$quick" = 1 ] && echo 1 || echo 3)} bash bench/edge.sh
fi

# The miss pipeline in-process (bench/pipeline_bench.cpp): the floor for the server's misses,
# and the server's CPU per miss against it (bench/miss_cpu.sh).
if [ "${BENCH_PIPELINE:-1}" != 0 ] && [ -x "$build/bench/pipeline_bench" ]; then
  echo
  corpus=$(bash bench/corpus.sh | tail -1)
  pipeline_command="IF_BENCH_CORPUS=$corpus/2560x1600 $build/bench/pipeline_bench --benchmark_min_time=${BENCH_PIPELINE_MIN_TIME:-1}"
  echo "in-process pipeline: $pipeline_command"
  pipeline_report=$(IF_BENCH_CORPUS=$corpus/2560x1600 "$build/bench/pipeline_bench" \
    --benchmark_min_time="${BENCH_PIPELINE_MIN_TIME:-1}" 2>/dev/null)
  miss_cpu_command="ROUNDS=$miss_cpu_rounds bash bench/miss_cpu.sh $miss_cpu_count jpeg"
  miss_cpu_report=$(ROUNDS=$miss_cpu_rounds BUILD=$build IF_BENCH_CORPUS=$corpus/2560x1600 \
    bash bench/miss_cpu.sh "$miss_cpu_count" jpeg 2>/dev/null)
  printf '%s\n%s\n' "$pipeline_report" "$miss_cpu_report"
  {
    echo
    echo "In-process pipeline (CPU = the process's user+sys per image): \`$pipeline_command\`"
    echo
    echo '```'
    echo "$pipeline_report"
    echo '```'
    echo
    echo "Server CPU per miss against in-process: \`$miss_cpu_command\`"
    echo
    echo '```'
    echo "$miss_cpu_report"
    echo '```'
  } >>"$report"
fi

if [ "${BENCH_QUALITY:-0}" != 0 ]; then
  echo
  bash bench/quality.sh --quick
  {
    echo
    echo "Quality sweep: \`bash bench/quality.sh --quick\` (full: \`bash bench/quality.sh\`)"
    echo
    echo '```'
    cat "$out/quality_summary.txt"
    echo '```'
  } >>"$report"
fi
echo
echo "total $(($(date +%s) - started_at)) s"
{ cat "$report"; echo; } >>"$out/results.md"
echo "appended to $out/results.md"
