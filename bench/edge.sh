#!/usr/bin/env bash
# The edge's overhead (issue 10, docs/edge.md), split by where it goes. Two stacks of
# deploy/edge/start.sh over samples/, started side by side: the production edge (TLS +
# HTTP/2, ModSecurity with the CRS, proxy cache) and the same without ModSecurity
# (IF_EDGE_MODSECURITY=off); each also gets a plain-HTTP/1.1 listener (IF_EDGE_HTTP_PORT).
#   1. hit: one warm variant, wrk with keep-alive (HTTP/1.1, TLS for https), BENCH_EDGE_ROUNDS
#      rounds of, in this order (the median of each figure is reported):
#        node alone (its memory cache, X-Cache: hit-memory), then an edge cache HIT (no node
#        involved) over plain HTTP without ModSecurity, HTTPS without ModSecurity, plain HTTP
#        with ModSecurity, HTTPS with ModSecurity (production), and the last again with a
#        browser's headers (cookies, client hints, referrer): ModSecurity reads every header.
#      Per run: req/s, latency, the serving processes' CPU per request (/proc: nginx's
#      workers, or the node), and the connections the requests came on (nginx's access log:
#      32 = keep-alive held; nginx closes one after 1,000 requests, and wrk's reconnections
#      resume their TLS session: an abbreviated handshake).
#   2. miss: BENCH_EDGE_MISSES (40) variants already in every node's memory, each asked once
#      through the edge (an edge MISS: the edge's work + a hop to a node's memory hit) and
#      to a node directly; one curl, one kept-alive connection each (its first request, which
#      opens the connection, is not counted); p50/p95 of curl's time per request.
# The rate limit is lifted for the run (IF_EDGE_RATE=IF_EDGE_BURST=1000000: no request is
# delayed or refused). nginx listens on fixed ports BENCH_EDGE_PORT+1..+4 (default 19300),
# below the kernel's ephemeral range the tests' free ports come from, so a concurrent
# EdgeTest cannot take them. Prints Markdown tables and appends them to bench/out/results.md.
# Knobs: BUILD=build, BENCH_DURATION=8 (s per wrk run, <= 10), BENCH_CONNECTIONS=32,
# BENCH_EDGE_MISSES=40, BENCH_EDGE_ROUNDS=3 (the hit runs, interleaved; medians reported),
# BENCH_EDGE_PORT=19300.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
duration=${BENCH_DURATION:-8}
connections=${BENCH_CONNECTIONS:-32}
misses=${BENCH_EDGE_MISSES:-40}
rounds=${BENCH_EDGE_ROUNDS:-3}
port_base=${BENCH_EDGE_PORT:-19300}
out=bench/out
[ "$duration" -le 10 ] || { echo "edge.sh: BENCH_DURATION is capped at 10 s" >&2; exit 2; }
command -v wrk >/dev/null || { echo "edge.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
mkdir -p "$out"
for p in $((port_base + 1)) $((port_base + 2)) $((port_base + 3)) $((port_base + 4)); do
  python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$p" 2>/dev/null \
    || { echo "edge.sh: port $p is taken; set BENCH_EDGE_PORT to a free range of 5" >&2; exit 1; }
done

waf=$(mktemp -d)
plain=$(mktemp -d)
cleanup() {
  deploy/edge/stop.sh "$waf" >/dev/null 2>&1 || true
  deploy/edge/stop.sh "$plain" >/dev/null 2>&1 || true
  rm -rf "$waf" "$plain"
}
trap cleanup EXIT
start_edge() {  # start_edge DIR HTTPS_PORT HTTP_PORT MODSECURITY
  echo "edge benchmark: starting an edge in $1 (ModSecurity $4)" >&2
  IMAGEFLEX_BINARY=$root/$build/imageflex IF_EDGE_RATE=1000000 IF_EDGE_BURST=1000000 IF_ACCESS_LOG=false \
    IF_EDGE_PORT=$2 IF_EDGE_HTTP_PORT=$3 IF_EDGE_MODSECURITY=$4 deploy/edge/start.sh "$1" >/dev/null
}
start_edge "$waf" $((port_base + 1)) $((port_base + 2)) on
start_edge "$plain" $((port_base + 3)) $((port_base + 4)) off
env_of() { sed -n "s/^$2=//p" "$1/env" | tr -d '"'; }  # env_of DIR NAME
node_urls=$(env_of "$waf" IF_NODE_URLS)
node=${node_urls%% *}
node_pid=$(env_of "$waf" IF_NODE_PIDS)
node_pid=${node_pid%% *}
cacert=$waf/bench-ca.pem  # both stacks' self-signed certificates, for curl
cat "$waf/edge/tls/cert.pem" "$plain/edge/tls/cert.pem" >"$cacert"
agent="User-Agent: Mozilla/5.0 (X11; Linux x86_64) imageflex-bench"
# What Chrome sends for an <img> on a site with analytics cookies (as in tests/integration/edge_test.cpp).
browser=(-H "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36"
  -H "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
  -H "Accept-Encoding: gzip, deflate, br" -H "Accept-Language: en-GB,en;q=0.9,de;q=0.8"
  -H "Referer: https://shop.example.com/products/shoes?utm_source=news&page=2"
  -H "Sec-Fetch-Dest: image" -H "Sec-Fetch-Mode: no-cors" -H "Sec-Fetch-Site: cross-site"
  -H 'sec-ch-ua: "Not A(Brand";v="99", "Google Chrome";v="121", "Chromium";v="121"'
  -H "sec-ch-ua-mobile: ?0" -H 'sec-ch-ua-platform: "Windows"'
  -H "Cookie: _ga=GA1.1.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; consent=yes")

to_ms() {  # 812.00us | 1.20ms | 1.05s -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'
}
cpu_ticks() {  # cpu_ticks PID...: user + system clock ticks of these processes
  local p sum=0
  for p in "$@"; do sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$sum"
}
nginx_workers() { pgrep -P "$(cat "$1/nginx/master.pid")" -f "worker process" | tr '\n' ' '; }  # nginx_workers DIR
header_of() {  # header_of NAME URL [curl args]: the response header's value
  local name=$1 url=$2; shift 2
  curl -sS -o /dev/null -D - --cacert "$cacert" "$@" "$url" | tr -d '\r' |
    awk -F': ' -v n="$name" 'tolower($1) == tolower(n) { print $2 }'
}

# One wrk run; appends "rps p50 p99 cpu_ms_per_request errors connections tls_handshakes
# tls_resumed" to results[KEY] (the last three from nginx's access log: connection ids, and
# the first request of each with its tls_resumed).
# run_wrk KEY URL EXPECT DIR|- PID... [-- curl/wrk -H args]
declare -A results=() commands=()
run_wrk() {
  local key=$1 url=$2 expect=$3 dir=$4 pids=() headers=() seen
  shift 4
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pids+=("$1"); shift; done
  [ $# -eq 0 ] || { shift; headers=("$@"); }
  [ ${#headers[@]} -gt 0 ] || headers=(-H "$agent")
  curl -sS -o /dev/null --cacert "$cacert" "${headers[@]}" "$url"  # makes or warms it
  if [[ $expect == HIT ]]; then seen=$(header_of X-Edge-Cache "$url" "${headers[@]}"); else seen=$(header_of X-Cache "$url" "${headers[@]}"); fi
  [ "$seen" = "$expect" ] || { echo "edge.sh: $url answered '$seen', expected '$expect'" >&2; exit 1; }
  local log_lines=0 ticks0 ticks1 report
  [ "$dir" = - ] || log_lines=$(wc -l <"$dir/nginx/access.log")
  echo "  round $round, $key: $url" >&2
  commands[$key]="wrk -t2 -c$connections -d${duration}s --latency $([ ${#headers[@]} -gt 2 ] && echo "(the $((${#headers[@]} / 2)) browser headers)" || echo "-H '$agent'") '$url'"
  ticks0=$(cpu_ticks "${pids[@]}")
  report=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "${headers[@]}" "$url")
  ticks1=$(cpu_ticks "${pids[@]}")
  local requests conns="0 0 0"
  requests=$(awk '/requests in/ { print $1 }' <<<"$report")
  if [ "$dir" != - ]; then  # connections, of them TLS, of them resumed (an abbreviated handshake)
    conns=$(tail -n +"$((log_lines + 1))" "$dir/nginx/access.log" | awk '
      match($0, /"connection":[0-9]+,/) { id = substr($0, RSTART + 13, RLENGTH - 14); if (!(id in seen)) { seen[id] = 1; n++ } }
      /"connection_requests":1,/ && /"tls_resumed":"[r.]"/ { tls++; if (/"tls_resumed":"r"/) resumed++ }
      END { print n + 0, tls + 0, resumed + 0 }')
  fi
  results[$key]+="$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$report") $(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$report")") $(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$report")") $(awk -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.3f", t * 1000 / hz / n }') $(awk '/Non-2xx or 3xx responses:/ { bad += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { v = $i; sub(",", "", v); bad += v } }
    END { print bad + 0 }' <<<"$report") $conns
"
}
# The Markdown row of KEY: the median of each figure over the rounds, the sum of errors,
# the connections of the round that opened most (with its TLS handshakes, and how many of
# them resumed a session); req/s also as a ratio to the node's median.
row_of() {  # row_of KEY LABEL
  local key=$1 label=$2 node_median
  node_median=$(median_of "${results[node]}" 1)
  printf '| %s | %s | %.3fx | %s | %s | %s | %s | %s |\n' "$label" "$(median_of "${results[$key]}" 1)" \
    "$(awk -v a="$(median_of "${results[$key]}" 1)" -v b="$node_median" 'BEGIN { print a / b }')" \
    "$(median_of "${results[$key]}" 2)" "$(median_of "${results[$key]}" 3)" "$(median_of "${results[$key]}" 4)" \
    "$(awk 'NF && $6 >= m { m = $6; tls = $7; resumed = $8 }
      END { if (!m) print "—"; else if (tls) printf "%d (%d TLS handshakes, %d resumed)", m, tls, resumed; else print m }' \
      <<<"${results[$key]}")" \
    "$(awk 'NF { e += $5 } END { print e + 0 }' <<<"${results[$key]}")"
}
median_of() {  # median_of LINES FIELD
  awk -v f="$2" 'NF { print $f }' <<<"$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

warm="/landscape.jpg?w=400&f=webp"
waf_https=$(env_of "$waf" EDGE_URL)
waf_http=$(env_of "$waf" IF_EDGE_HTTP_URL)
plain_https=$(env_of "$plain" EDGE_URL)
plain_http=$(env_of "$plain" IF_EDGE_HTTP_URL)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "edge benchmark: cache hits, $connections connections, ${duration} s each, $rounds round(s)" >&2
# The setups interleaved, round after round, so a change in the machine's load falls on all.
for round in $(seq 1 "$rounds"); do
  run_wrk node "$node$warm" hit-memory - "$node_pid"
  # shellcheck disable=SC2046  # the workers' pids, one word each
  run_wrk plain_http "$plain_http$warm" HIT "$plain" $(nginx_workers "$plain")
  # shellcheck disable=SC2046
  run_wrk plain_https "$plain_https$warm" HIT "$plain" $(nginx_workers "$plain")
  # shellcheck disable=SC2046
  run_wrk waf_http "$waf_http$warm" HIT "$waf" $(nginx_workers "$waf")
  # shellcheck disable=SC2046
  run_wrk waf_https "$waf_https$warm" HIT "$waf" $(nginx_workers "$waf")
  # shellcheck disable=SC2046
  run_wrk waf_browser "$waf_https$warm" HIT "$waf" $(nginx_workers "$waf") -- "${browser[@]}"
done
load_after_hits=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- misses: variants in every node's memory, asked once through the edge ------------
echo "edge benchmark: $misses edge misses to node memory hits, one connection" >&2
urls=()
for i in $(seq 1 "$misses"); do urls+=("/landscape.jpg?w=$((200 + i))&f=webp"); done
for n in $node_urls $(env_of "$plain" IF_NODE_URLS); do
  for u in "${urls[@]}"; do curl -sS -o /dev/null "$n$u"; done
done
# Times of a list of URLs on one kept-alive connection, after a first request that opens it,
# as "p50 p95" (ms). curl_times BASE_URL
curl_times() {
  local args=(-o /dev/null -w '%{time_total}\n' "$1$warm") u
  for u in "${urls[@]}"; do args+=(-o /dev/null -w '%{time_total}\n' "$1$u"); done
  curl -sS --cacert "$cacert" -H "$agent" "${args[@]}" | tail -n +2 |
    awk '{ printf "%.3f\n", $1 * 1000 }' | sort -n |
    awk '{ v[NR] = $1 } END { i = int(NR * 0.95 + 0.999); if (i > NR) i = NR; printf "%.2f %.2f\n", v[int((NR + 1) / 2)], v[i] }'
}
read -r node_miss_p50 node_miss_p95 < <(curl_times "$node")
read -r plain_miss_p50 plain_miss_p95 < <(curl_times "$plain_http")
read -r waf_miss_p50 waf_miss_p95 < <(curl_times "$waf_https")
miss_row() {  # miss_row LABEL P50 P95
  awk -v l="$1" -v a="$2" -v b="$3" -v na="$node_miss_p50" -v nb="$node_miss_p95" \
    'BEGIN { printf "| %s | %s | %s | +%.2f | +%.2f |", l, a, b, a - na, b - nb }'
}

report=$(cat <<MD

### Edge overhead ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average before: $load_before, after the hits: $load_after_hits)

\`bash bench/edge.sh\` (BENCH_DURATION=$duration, BENCH_CONNECTIONS=$connections, BENCH_EDGE_MISSES=$misses;
rate limit lifted: IF_EDGE_RATE=IF_EDGE_BURST=1000000; nodes with IF_ACCESS_LOG=false, nginx logs every request)

Cache hits, \`$warm\`, wrk with keep-alive; medians of $rounds interleaved rounds (CPU: the serving processes' user+system time / requests; connections: of the round that opened most, with its TLS handshakes and how many resumed a session):

| served by | req/s | × node | p50 ms | p99 ms | CPU ms/request | connections | errors |
|---|---|---|---|---|---|---|---|
$(row_of node "node alone (memory hit, HTTP/1.1)")
$(row_of plain_http "edge HIT, HTTP/1.1, no ModSecurity")
$(row_of plain_https "edge HIT, HTTPS (TLS 1.3, HTTP/1.1), no ModSecurity")
$(row_of waf_http "edge HIT, HTTP/1.1, ModSecurity + CRS")
$(row_of waf_https "edge HIT, HTTPS, ModSecurity + CRS (production)")
$(row_of waf_browser "the same with a browser's 12 headers (cookies, client hints)")

Misses: $misses variants already in every node's memory, each asked once through the edge (edge MISS) and to a node directly, on one kept-alive connection (curl):

| path | p50 ms | p95 ms | extra p50 ms | extra p95 ms |
|---|---|---|---|---|
$(miss_row "node alone" "$node_miss_p50" "$node_miss_p95")
$(miss_row "edge MISS, HTTP/1.1, no ModSecurity" "$plain_miss_p50" "$plain_miss_p95")
$(miss_row "edge MISS, HTTPS + ModSecurity + CRS (production)" "$waf_miss_p50" "$waf_miss_p95")

Commands:

\`\`\`
$(for k in node plain_http plain_https waf_http waf_https waf_browser; do echo "${commands[$k]}"; done)
curl -w '%{time_total}' URL1 URL2 ...   (one connection; /landscape.jpg?w=201..$((200 + misses))&f=webp)
\`\`\`
MD
)
echo "$report"
echo "$report" >>"$out/results.md"
