#!/usr/bin/env bash
# Scale-out on one machine: a local Swift S3 store with one bucket, N Image Flex
# nodes on free loopback ports all serving that bucket, and nginx in front of them
# as the load balancer. Everything (state, logs, pid files, config) lives in DIR.
#
#   usage: start.sh DIR [--nodes N] [--port P] [--samples] [--images FOLDER] [--edge-cache] [--edge]
#
#   --nodes N        how many imageflex nodes (default 3)
#   --port P         the port nginx listens on, on 127.0.0.1 (default: a free port)
#   --samples        upload samples/*.jpg|png|gif into the bucket
#   --images FOLDER  upload every file under FOLDER, keyed by its path below FOLDER
#                    (spaces and non-ASCII names kept)
#   --edge-cache     turn on nginx's proxy cache in front of the nodes
#   --edge           the edge of deploy/edge/start.sh (which makes its files in DIR/edge
#                    first): the edge cache, TLS and HTTP/2 (the URL is https://),
#                    ModSecurity with the Core Rule Set, the rate limit, the canonical query
#
# Environment: IMAGEFLEX_BINARY (default: build/imageflex of this repo);
# IF_SCALEOUT_START_TIMEOUT (seconds for the nodes and nginx to come up once the
# store is up, default 30; Swift has its own 30 s, IF_SWIFT_START_TIMEOUT); any IF_*
# setting of imageflex (IF_WORKERS, IF_MEMORY_CACHE_MB, ...) is passed to every node.
#
# When everything answers, prints as its last stdout lines (also written to DIR/env):
#   IF_EDGE_URL=http://127.0.0.1:PORT
#   IF_NODE_URLS="http://127.0.0.1:A http://127.0.0.1:B http://127.0.0.1:C"
#   IF_NODE_PIDS="PA PB PC"
#   IF_BUCKET=imageflex
#   IF_S3_ENDPOINT=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_REGION=...
# Progress and errors go to stderr. On failure: log tails on stderr, everything
# started is stopped again, exit 1. Stop with: stop.sh DIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TEMPLATE=$REPO/deploy/nginx/imageflex.conf.template
BINARY=${IMAGEFLEX_BINARY:-$REPO/build/imageflex}
TIMEOUT_S=${IF_SCALEOUT_START_TIMEOUT:-30}
BUCKET=imageflex
PY=/usr/bin/python3
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

log() { echo "scaleout start: $*" >&2; }
usage() {
  echo "usage: $0 DIR [--nodes N] [--port P] [--samples] [--images FOLDER] [--edge-cache] [--edge]" >&2
  exit 2
}

# ---- arguments ---------------------------------------------------------------
[ $# -ge 1 ] && [ -n "$1" ] && [[ "$1" != --* ]] || usage
ARG_DIR=$1; shift
NODES=3; PORT=""; SAMPLES=0; IMAGES=""; EDGE_CACHE=0; EDGE=0; SCHEME=http
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) [ $# -ge 2 ] || usage; NODES=$2; shift 2 ;;
    --port) [ $# -ge 2 ] || usage; PORT=$2; shift 2 ;;
    --samples) SAMPLES=1; shift ;;
    --images) [ $# -ge 2 ] || usage; IMAGES=$2; shift 2 ;;
    --edge-cache) EDGE_CACHE=1; shift ;;
    --edge) EDGE=1; EDGE_CACHE=1; SCHEME=https; shift ;;
    *) usage ;;
  esac
done
[[ "$NODES" =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] && [ "$NODES" -le 32 ] \
  || { log "--nodes must be 1..32, not '$NODES'"; exit 2; }
if [ -n "$PORT" ] && ! [[ "$PORT" =~ ^[0-9]+$ && "$PORT" -ge 1 && "$PORT" -le 65535 ]]; then
  log "bad --port '$PORT'"; exit 2
fi

# ---- prerequisites -----------------------------------------------------------
# nginx lives in /usr/sbin, which a non-root PATH may lack.
NGINX=$(command -v nginx 2>/dev/null || true)
if [ -z "$NGINX" ] && [ -x /usr/sbin/nginx ]; then NGINX=/usr/sbin/nginx; fi
[ -n "$NGINX" ] || { log "nginx not found; install it with:" \
  "apt-get install -y --no-install-recommends nginx-light"; exit 1; }
[ -x "$BINARY" ] || { log "no imageflex binary at $BINARY (build it: cmake --build build," \
  "or set IMAGEFLEX_BINARY)"; exit 1; }
command -v curl >/dev/null || { log "curl not found"; exit 1; }
[ -x "$PY" ] || { log "$PY not found"; exit 1; }
[ -r "$TEMPLATE" ] || { log "missing $TEMPLATE"; exit 1; }
if [ -n "$IMAGES" ]; then
  [ -d "$IMAGES" ] || { log "--images: no folder $IMAGES"; exit 2; }
  IMAGES=$(cd "$IMAGES" && pwd -P)
fi

mkdir -p "$ARG_DIR"
DIR=$(cd "$ARG_DIR" && pwd -P)
case $DIR in *[[:space:]\|\&\;\\]*)
  log "DIR must not contain spaces or any of | & ; \\ (it goes into nginx.conf): $DIR"; exit 2 ;;
esac

# One start/stop at a time per DIR; fd 9 is closed for everything started below so
# the lock goes away with this script.
exec 9>"$DIR/.lock"
flock -w 60 9 || { log "timed out waiting for the lock on $DIR/.lock"; exit 1; }

# A previous instance in DIR (whole or partial) is stopped first: start.sh always
# leaves exactly what it printed running.
if compgen -G "$DIR/node-*.pid" >/dev/null || [ -e "$DIR/nginx/master.pid" ] \
    || compgen -G "$DIR/swift/run/*.pid" >/dev/null; then
  log "stopping a previous instance in $DIR"
  IF_SCALEOUT_LOCK_HELD=1 "$HERE/stop.sh" "$DIR" 9>&- >&2 || true
fi
rm -f "$DIR"/node-*.log "$DIR"/env "$DIR"/nginx.conf

now_ms() { date +%s%3N; }

# ---- failure: say what happened, show the logs, stop what was started ---------
STARTED_OK=0
show_logs() {
  local f
  for f in "$DIR"/node-*.log "$DIR/nginx/error.log"; do
    [ -e "$f" ] || continue
    echo "---- tail of $f ----" >&2
    if [ -s "$f" ]; then tail -n 20 "$f" >&2; else echo "(empty)" >&2; fi
  done
}
on_exit() {
  local rc=$?
  [ $STARTED_OK = 1 ] && return
  echo "scaleout start: FAILED (DIR=$DIR)" >&2
  show_logs
  IF_SCALEOUT_LOCK_HELD=1 "$HERE/stop.sh" "$DIR" 9>&- >&2 || true
  [ $rc -ne 0 ] || rc=1
  exit $rc
}
trap on_exit EXIT
fail() { log "$*"; exit 1; }

# launch NAME PIDFILE LOGFILE CMD...: in a session of its own (so stop.sh can signal
# the whole process group), detached from this shell, output to LOGFILE.
launch() {
  local pidfile=$1 logfile=$2; shift 2
  : >"$logfile"
  setsid nohup "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  echo $! >"$pidfile"
  disown $!
}

alive() {  # alive PID: running, and not a zombie (orphans may be reaped late here)
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}

pick_port() {  # a free loopback port (freed again at once: a small race, retried by the caller's failure)
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the store ---------------------------------------------------------------
log "starting Swift in $DIR/swift"
"$REPO/deploy/swift/start.sh" "$DIR/swift" >/dev/null 9>&- || fail "Swift did not start"
SWIFT_ENV=$(cat "$DIR/swift/env")
IF_S3_ENDPOINT=$(sed -n 's/^IF_S3_ENDPOINT=//p' <<<"$SWIFT_ENV")
AWS_ACCESS_KEY_ID=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' <<<"$SWIFT_ENV")
AWS_SECRET_ACCESS_KEY=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' <<<"$SWIFT_ENV")
AWS_REGION=$(sed -n 's/^AWS_REGION=//p' <<<"$SWIFT_ENV")
[[ "$IF_S3_ENDPOINT" == http://127.0.0.1:* ]] || fail "unexpected endpoint '$IF_S3_ENDPOINT' in $DIR/swift/env"

# curl against Swift: the access key has a colon, so credentials go in a netrc
# (written by swift/start.sh), and Swift insists on x-amz-content-sha256.
s3_curl() {  # s3_curl SHA256 ARGS... -> prints the HTTP status
  local sha=$1; shift
  curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
    --aws-sigv4 "aws:amz:$AWS_REGION:s3" --netrc-file "$DIR/swift/etc/netrc" \
    -H "x-amz-content-sha256: $sha" "$@"
}

code=$(s3_curl "$EMPTY_SHA256" -X PUT "$IF_S3_ENDPOINT/$BUCKET") || true
case $code in
  200) log "created bucket $BUCKET" ;;
  409) log "bucket $BUCKET exists" ;;  # BucketAlreadyOwnedByYou: data kept from a previous run
  *) fail "creating bucket $BUCKET: HTTP $code" ;;
esac

if [ $SAMPLES = 1 ]; then
  shopt -s nullglob
  for f in "$REPO"/samples/*.jpg "$REPO"/samples/*.png "$REPO"/samples/*.gif; do
    name=$(basename "$f")
    case $name in *.jpg) type=image/jpeg ;; *.png) type=image/png ;; *.gif) type=image/gif ;; esac
    code=$(s3_curl "$(sha256sum "$f" | cut -d' ' -f1)" -X PUT -H "Content-Type: $type" \
      --data-binary "@$f" "$IF_S3_ENDPOINT/$BUCKET/$name") || true
    [ "$code" = 200 ] || fail "uploading $name: HTTP $code"
    log "uploaded $name"
  done
  shopt -u nullglob
fi

if [ -n "$IMAGES" ]; then
  # The key is the file's path below FOLDER (UTF-8), percent-encoded in the URL.
  count=0
  while IFS= read -r -d '' f; do
    rel=${f#"$IMAGES"/}
    key=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/"))' "$rel")
    code=$(s3_curl "$(sha256sum "$f" | cut -d' ' -f1)" -X PUT -H "Content-Type: application/octet-stream" \
      --data-binary "@$f" "$IF_S3_ENDPOINT/$BUCKET/$key") || true
    [ "$code" = 200 ] || fail "uploading $rel: HTTP $code"
    count=$((count + 1))
  done < <(find "$IMAGES" -type f ! -name '.*' -print0)
  log "uploaded $count file(s) from $IMAGES"
fi

# ---- the nodes -----------------------------------------------------------------
DEADLINE_MS=$(( $(now_ms) + TIMEOUT_S * 1000 ))
# Each node gets the store's environment; path-style addressing and no session
# token whatever the caller's environment says. IF_SCALEOUT_DIR marks the process
# as ours for stop.sh (imageflex ignores it).
for k in $(seq 1 "$NODES"); do
  launch "$DIR/node-$k.pid" "$DIR/node-$k.log" \
    env -u AWS_SESSION_TOKEN -u AWS_PROFILE \
      IF_S3_ENDPOINT="$IF_S3_ENDPOINT" IF_S3_ADDRESSING=path AWS_REGION="$AWS_REGION" \
      AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
      IF_SCALEOUT_DIR="$DIR" \
      "$BINARY" serve --listen 127.0.0.1:0 --storage "s3://$BUCKET"
done

# A node is up when its log has the "listening" line and it answers its health check.
NODE_PORTS=(); NODE_PIDS=()
for k in $(seq 1 "$NODES"); do
  pid=$(cat "$DIR/node-$k.pid")
  port=""
  while [ "$(now_ms)" -lt "$DEADLINE_MS" ]; do
    alive "$pid" || fail "node $k (pid $pid) exited during start-up"
    port=$(sed -n 's/.*"msg":"listening on http:\/\/127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$DIR/node-$k.log" | head -n 1)
    if [ -n "$port" ] && [ "$(curl -s --max-time 2 "http://127.0.0.1:$port/_imageflex/health" 2>/dev/null)" = ok ]; then
      break
    fi
    port=""
    sleep 0.05
  done
  [ -n "$port" ] || fail "node $k not up within ${TIMEOUT_S}s"
  NODE_PORTS+=("$port"); NODE_PIDS+=("$pid")
  log "node $k: pid $pid, http://127.0.0.1:$port"
done

# ---- nginx ---------------------------------------------------------------------
[ -n "$PORT" ] || PORT=$(pick_port)
mkdir -p "$DIR/nginx/tmp" "$DIR/nginx/cache"
# One server line per node; "\n    " is sed's newline plus the template's indent.
upstream=""
for p in "${NODE_PORTS[@]}"; do
  [ -z "$upstream" ] || upstream+='\n    '
  upstream+="server 127.0.0.1:$p max_fails=2 fail_timeout=5s;"
done
user_directive=""
# Workers of an nginx started as root run as "nobody", which cannot enter a 0700 DIR.
[ "$(id -u)" -ne 0 ] || user_directive="user $(id -un) $(id -gn);"
# --edge-cache first uncomments the lines marked "#@EDGE_CACHE@ ", --edge those marked
# "#@EDGE@ " (else those marked "#@PLAIN@ "); then the
# placeholders are filled in on every line that is not a comment (the template's
# header describes them and stays as it is).
render=()
[ $EDGE_CACHE = 0 ] || render+=(-e 's/^\([[:space:]]*\)#@EDGE_CACHE@ /\1/')
listen_params=""
if [ $EDGE = 1 ]; then
  render+=(-e 's/^\([[:space:]]*\)#@EDGE@ /\1/')
  listen_params="ssl http2"
else
  render+=(-e 's/^\([[:space:]]*\)#@PLAIN@ /\1/')
fi
render+=(-e "/^[[:space:]]*#/!{s|@DIR@|$DIR|g; s|@LISTEN_PORT@|$PORT|g;"
         -e "s|@USER_DIRECTIVE@|$user_directive|; s|@UPSTREAM_SERVERS@|$upstream|;"
         -e "s|@LISTEN_PARAMS@|$listen_params|;}")
sed "${render[@]}" "$TEMPLATE" >"$DIR/nginx.conf.tmp"
if grep -v '^[[:space:]]*#' "$DIR/nginx.conf.tmp" | grep -q '@[A-Z_]*@'; then
  fail "placeholders left in $DIR/nginx.conf.tmp"
fi
mv -f "$DIR/nginx.conf.tmp" "$DIR/nginx.conf"
if ! out=$("$NGINX" -t -q -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/nginx/error.log" 2>&1); then
  echo "$out" >&2
  fail "nginx rejects $DIR/nginx.conf"
fi
# In the foreground (daemon off) under setsid: its pid is the master's, and stop.sh
# signals the master's process group, which holds the workers too.
launch "$DIR/nginx/master.pid" "$DIR/nginx/stderr.log" \
  "$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/nginx/error.log" -g "daemon off;"
nginx_pid=$(cat "$DIR/nginx/master.pid")
EDGE_URL=$SCHEME://127.0.0.1:$PORT
until [ "$(curl -sk --max-time 2 "$EDGE_URL/_imageflex/health" 2>/dev/null)" = ok ]; do
  alive "$nginx_pid" || { cat "$DIR/nginx/stderr.log" >&2; fail "nginx exited during start-up"; }
  [ "$(now_ms)" -lt "$DEADLINE_MS" ] || fail "nginx not answering on $EDGE_URL within ${TIMEOUT_S}s"
  sleep 0.05
done
log "nginx: pid $nginx_pid, $EDGE_URL$([ $EDGE_CACHE = 1 ] && echo ' (edge cache on)')$([ $EDGE = 1 ] && echo ' (edge)')"

# ---- done ------------------------------------------------------------------------
node_urls=""
for p in "${NODE_PORTS[@]}"; do node_urls+="http://127.0.0.1:$p "; done
{
  echo "IF_EDGE_URL=$EDGE_URL"
  echo "IF_NODE_URLS=\"${node_urls% }\""
  echo "IF_NODE_PIDS=\"${NODE_PIDS[*]}\""
  echo "IF_BUCKET=$BUCKET"
  echo "$SWIFT_ENV"
} >"$DIR/env.tmp"
mv -f "$DIR/env.tmp" "$DIR/env"
STARTED_OK=1
cat "$DIR/env"
