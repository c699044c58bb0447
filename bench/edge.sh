#!/usr/bin/env bash
# The edge's overhead (issue 10, docs/edge.md): deploy/edge/start.sh over samples/, then the
# same requests to the edge (TLS, ModSecurity + CRS, proxy cache) and to a node alone.
#   1. hit:  a warm variant; wrk through the edge (an edge cache HIT: no node involved)
#            vs wrk to a node directly (the node's memory cache, X-Cache: hit-memory)
#   2. miss: BENCH_EDGE_MISSES (20) variants already in both nodes' memory, each asked once
#            through the edge (an edge MISS: TLS + ModSecurity + cache write + a hop to a
#            node's memory hit) vs the same once more to a node directly; one curl, one
#            kept-alive connection each, time per request from curl
# Prints a Markdown table and appends it to bench/out/results.md. The rate limit is lifted
# for the run. Knobs: BUILD=build, BENCH_DURATION=8 (s per wrk run, <= 10),
# BENCH_CONNECTIONS=32, BENCH_EDGE_MISSES=20.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
duration=${BENCH_DURATION:-8}
connections=${BENCH_CONNECTIONS:-32}
misses=${BENCH_EDGE_MISSES:-20}
out=bench/out
[ "$duration" -le 10 ] || { echo "edge.sh: BENCH_DURATION is capped at 10 s" >&2; exit 2; }
command -v wrk >/dev/null || { echo "edge.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
mkdir -p "$out"

dir=$(mktemp -d)
cleanup() { deploy/edge/stop.sh "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
echo "edge benchmark: starting the edge in $dir" >&2
IMAGEFLEX_BINARY=$root/$build/imageflex IF_EDGE_RATE=1000000 IF_EDGE_BURST=1000000 IF_ACCESS_LOG=false \
  deploy/edge/start.sh "$dir" >/dev/null
set -a; . "$dir/env"; set +a
node=${IF_NODE_URLS%% *}
cacert=$dir/edge/tls/cert.pem
agent="User-Agent: Mozilla/5.0 (X11; Linux x86_64) imageflex-bench"

# wrk's "Latency" line and requests per second, as "p50 p99 req/s" (ms).
to_ms() {  # 812.00us | 1.20ms | 1.05s -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'
}
run_wrk() {  # run_wrk URL -> "p50 p99 rps"
  local report
  report=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -H "$agent" "$1")
  echo "$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$report")")" \
       "$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$report")")" \
       "$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$report")"
}
# Times of a list of URLs fetched on one kept-alive connection, as "p50 p99" (ms).
curl_times() {
  local args=() url
  for url in "$@"; do args+=(-o /dev/null -w '%{time_total}\n' "$url"); done
  curl -sS --cacert "$cacert" -H "$agent" "${args[@]}" |
    awk '{ printf "%.3f\n", $1 * 1000 }' | sort -n |
    awk '{ v[NR] = $1 } END { p50 = v[int((NR + 1) / 2)]; i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; printf "%.2f %.2f\n", p50, v[i] }'
}

warm="/landscape.jpg?w=400"
curl -sS -o /dev/null --cacert "$cacert" -H "$agent" "$IF_EDGE_URL$warm"
curl -sS -o /dev/null "$node$warm"
read -r edge_hit_p50 edge_hit_p99 edge_hit_rps < <(run_wrk "$IF_EDGE_URL$warm")
read -r node_hit_p50 node_hit_p99 node_hit_rps < <(run_wrk "$node$warm")

# Variants made once on each node directly, so both nodes hold them in memory.
urls=()
for i in $(seq 1 "$misses"); do urls+=("/landscape.jpg?w=$((200 + i))&f=webp"); done
for n in $IF_NODE_URLS; do for u in "${urls[@]}"; do curl -sS -o /dev/null "$n$u"; done; done
read -r edge_miss_p50 edge_miss_p99 < <(curl_times "${urls[@]/#/$IF_EDGE_URL}")
read -r node_miss_p50 node_miss_p99 < <(curl_times "${urls[@]/#/$node}")

report=$(cat <<MD

### Edge overhead ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)

\`bash bench/edge.sh\` (BENCH_DURATION=$duration, BENCH_CONNECTIONS=$connections, BENCH_EDGE_MISSES=$misses)

| request | through the edge p50 / p99 ms | node alone p50 / p99 ms | edge req/s | node req/s |
|---|---|---|---|---|
| hit ($warm; edge cache vs node memory, wrk) | $edge_hit_p50 / $edge_hit_p99 | $node_hit_p50 / $node_hit_p99 | $edge_hit_rps | $node_hit_rps |
| miss (edge miss to a node memory hit vs that hit alone, one connection) | $edge_miss_p50 / $edge_miss_p99 | $node_miss_p50 / $node_miss_p99 | | |
MD
)
echo "$report"
echo "$report" >>"$out/results.md"
