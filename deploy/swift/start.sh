#!/usr/bin/env bash
# Start a throw-away single-node OpenStack Swift with the S3 API (s3api) on
# 127.0.0.1, with all state, config, logs and pid files under DIR.
#
#   usage: start.sh DIR [PORT]
#
# PORT is the S3/Swift proxy port (default: a free port).  The account,
# container, object servers and memcached get free ports of their own.
# Waits until the proxy healthcheck answers and a signed S3 request works,
# then prints (last lines on stdout, also written to DIR/env):
#   IF_S3_ENDPOINT=http://127.0.0.1:PORT
#   AWS_ACCESS_KEY_ID=test:tester
#   AWS_SECRET_ACCESS_KEY=testing
#   AWS_REGION=us-east-1
# Running it again for a DIR whose servers are up just prints the same lines.
# Stop with: stop.sh DIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
TIMEOUT_S=${IF_SWIFT_START_TIMEOUT:-30}
# Everything here talks to 127.0.0.1 by address: skipping eventlet's
# dnspython-based green resolver saves ~0.3 s of start-up per Swift process.
export EVENTLET_NO_GREENDNS=yes
# The Debian python must see only its own packages.
unset PYTHONPATH PYTHONHOME
ACCESS_KEY=test:tester
SECRET_KEY=testing
REGION=us-east-1

now_ms() { date +%s%3N; }
START_MS=$(now_ms)

die() { echo "swift start: $*" >&2; exit 1; }
log() { echo "swift start: $*" >&2; }

[ $# -ge 1 ] && [ $# -le 2 ] && [ -n "$1" ] || {
    echo "usage: $0 DIR [PORT]" >&2; exit 2; }
REQ_PORT=${2:-}
if [ -n "$REQ_PORT" ] && ! [[ "$REQ_PORT" =~ ^[0-9]+$ && "$REQ_PORT" -ge 1 && "$REQ_PORT" -le 65535 ]]; then
    die "bad PORT '$REQ_PORT'"
fi

for b in swift-proxy-server swift-account-server swift-container-server \
         swift-object-server memcached curl; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/bin/$b" ] \
        || die "missing $b; run $HERE/install.sh"
done
[ -x "$PY" ] && "$PY" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("swift") is None)' 2>/dev/null \
    || die "$PY cannot import swift; run $HERE/install.sh"

mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)
ETC=$DIR/etc
RUN=$DIR/run
LOGD=$DIR/log
SRV=$DIR/srv
mkdir -p "$ETC" "$RUN" "$LOGD" "$SRV/d1"

# One start/stop at a time per DIR.  fd 9 is closed for the servers below so
# they do not keep holding the lock.
exec 9>"$DIR/.lock"
flock -w 60 9 || die "timed out waiting for the lock on $DIR/.lock"

SERVICES=(memcached account container object proxy)

alive() {  # alive NAME -> 0 when the pid file names a live process of DIR
    local f=$RUN/$1.pid pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DIR/" || return 1
}

print_env() {
    local port=$1
    {
        echo "IF_S3_ENDPOINT=http://127.0.0.1:$port"
        echo "AWS_ACCESS_KEY_ID=$ACCESS_KEY"
        echo "AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
        echo "AWS_REGION=$REGION"
    } >"$DIR/env.tmp"
    mv -f "$DIR/env.tmp" "$DIR/env"
    cat "$DIR/env"
}

# A curl netrc with the S3 credentials: the access key "test:tester" contains
# a colon, which `curl -u user:password` would split at the wrong place.
NETRC=$DIR/etc/netrc
printf 'machine 127.0.0.1 login %s password %s\n' "$ACCESS_KEY" "$SECRET_KEY" >"$NETRC"
chmod 600 "$NETRC"

s3_probe() {  # s3_probe PORT -> 0 when a SigV4-signed ListBuckets returns 200
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 \
        --netrc-file "$NETRC" --aws-sigv4 "aws:amz:$REGION:s3" \
        -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
        "http://127.0.0.1:$1/" 2>/dev/null) || true
    [ "$code" = 200 ]
}

# ---- already running? ------------------------------------------------------
all_alive=1; any_alive=0
for s in "${SERVICES[@]}"; do
    if alive "$s"; then any_alive=1; else all_alive=0; fi
done
if [ $all_alive = 1 ] && [ -s "$RUN/proxy.port" ]; then
    cur_port=$(cat "$RUN/proxy.port")
    if [ -n "$REQ_PORT" ] && [ "$REQ_PORT" != "$cur_port" ]; then
        die "already running for $DIR on port $cur_port (asked for $REQ_PORT); run stop.sh first"
    fi
    if curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$cur_port/healthcheck" \
            && s3_probe "$cur_port"; then
        log "already running for $DIR on port $cur_port"
        print_env "$cur_port"
        exit 0
    fi
fi
if [ $any_alive = 1 ] || ls "$RUN"/*.pid >/dev/null 2>&1; then
    log "cleaning up a previous (partial) instance for $DIR"
    IF_SWIFT_LOCK_HELD=1 "$HERE/stop.sh" "$DIR" 9>&- >&2 || true
fi

# ---- /etc/swift/swift.conf (fixed path in Swift) ---------------------------
if [ ! -e /etc/swift/swift.conf ]; then
    mkdir -p /etc/swift
    cat >/etc/swift/swift.conf.tmp.$$ <<'EOF'
# Written by image-flex deploy/swift/start.sh for local test instances.
[swift-hash]
swift_hash_path_suffix = imageflex-test-suffix
swift_hash_path_prefix = imageflex-test-prefix

[storage-policy:0]
name = Policy-0
default = yes
EOF
    mv -n /etc/swift/swift.conf.tmp.$$ /etc/swift/swift.conf 2>/dev/null || true
    rm -f /etc/swift/swift.conf.tmp.$$
fi

# ---- ports -----------------------------------------------------------------
pick_ports() {  # prints N free loopback ports (held open together, then freed)
    "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    socks.append(s)
print(' '.join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_free() {
    "$PY" - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(('127.0.0.1', int(sys.argv[1])))
except OSError as e:
    sys.exit(1)
EOF
}

# ---- config ----------------------------------------------------------------
write_configs() {
    local common="bind_ip = 127.0.0.1
workers = 0
swift_dir = $ETC
devices = $SRV
mount_check = false
disable_fallocate = true
fallocate_reserve = 0
bind_timeout = 2
log_level = INFO
log_udp_host =
"
    # The account, container and object servers differ only in name and port.
    local kind port
    for kind in account container object; do
        case $kind in
            account) port=$ACCOUNT_PORT ;; container) port=$CONTAINER_PORT ;; object) port=$OBJECT_PORT ;;
        esac
        cat >"$ETC/$kind-server.conf" <<EOF
[DEFAULT]
${common}bind_port = $port
log_name = $kind-server

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind
EOF
    done
    cat >"$ETC/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PROXY_PORT
bind_timeout = 2
workers = 0
swift_dir = $ETC
log_name = proxy-server
log_level = INFO
log_udp_host =

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:s3api]
use = egg:swift#s3api
location = $REGION

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET_KEY .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
EOF
}

launch() {  # launch NAME CMD... : own session/process group, logs to DIR/log
    local name=$1; shift
    : >"$LOGD/$name.log"
    setsid nohup "$@" </dev/null >>"$LOGD/$name.log" 2>&1 9>&- &
    echo $! >"$RUN/$name.pid"
    disown $!  # no "Killed" job notices from this shell when stop.sh runs
}

show_logs() {
    for s in "${SERVICES[@]}"; do
        [ -e "$LOGD/$s.log" ] || continue
        echo "---- tail of $LOGD/$s.log ----" >&2
        if [ -s "$LOGD/$s.log" ]; then
            tail -n 25 "$LOGD/$s.log" >&2
        else
            echo "(empty)" >&2
        fi
    done
}

DEADLINE_MS=$((START_MS + TIMEOUT_S * 1000))
attempt=0
while :; do
    attempt=$((attempt + 1))
    if [ -n "$REQ_PORT" ]; then
        port_free "$REQ_PORT" || die "port 127.0.0.1:$REQ_PORT is already in use"
        ports=$(pick_ports 4) || die "could not pick free ports"
        read -r ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT MEMCACHED_PORT <<<"$ports"
        PROXY_PORT=$REQ_PORT
    else
        ports=$(pick_ports 5) || die "could not pick free ports"
        read -r PROXY_PORT ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT MEMCACHED_PORT <<<"$ports"
    fi
    write_configs
    echo "$PROXY_PORT" >"$RUN/proxy.port"

    launch memcached memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 32 -c 256 -u root \
        -P "$RUN/memcached.self.pid" -v
    # The account/container/object servers do not read the rings, so the
    # rings are built while they start; the proxy needs them at load time.
    launch account /usr/bin/swift-account-server "$ETC/account-server.conf" -v
    launch container /usr/bin/swift-container-server "$ETC/container-server.conf" -v
    launch object /usr/bin/swift-object-server "$ETC/object-server.conf" -v
    if ! "$PY" "$HERE/make_rings.py" "$ETC" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" d1; then
        IF_SWIFT_LOCK_HELD=1 "$HERE/stop.sh" "$DIR" 9>&- >&2 || true
        die "building the rings failed"
    fi
    launch proxy /usr/bin/swift-proxy-server "$ETC/proxy-server.conf" -v

    # Wait: every process alive, each backend answers HTTP, the proxy
    # healthcheck says OK, then a signed S3 request succeeds.
    ok=0; failed=""
    while [ "$(now_ms)" -lt "$DEADLINE_MS" ]; do
        for s in "${SERVICES[@]}"; do
            alive "$s" || { failed=$s; break; }
        done
        [ -z "$failed" ] || break
        up=1
        for p in "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT"; do
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$p/" 2>/dev/null) || true
            [ "$code" != 000 ] && [ -n "$code" ] || { up=0; break; }
        done
        if [ $up = 1 ] \
                && curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PROXY_PORT/healthcheck" 2>/dev/null \
                && s3_probe "$PROXY_PORT"; then
            ok=1; break
        fi
        sleep 0.1
    done
    [ $ok = 1 ] && break

    # Retry with other ports if an auto-picked port was taken in between.
    if [ -z "$REQ_PORT" ] && [ $attempt -lt 3 ] && [ "$(now_ms)" -lt "$DEADLINE_MS" ] \
            && grep -qsiE 'address already in use|could not bind' "$LOGD"/*.log; then
        log "a port was taken meanwhile; retrying with other ports"
        IF_SWIFT_LOCK_HELD=1 "$HERE/stop.sh" "$DIR" 9>&- >&2 || true
        continue
    fi
    if [ -n "$failed" ]; then
        echo "swift start: FAILED: $failed exited during startup (DIR=$DIR)" >&2
    else
        echo "swift start: FAILED: not ready within ${TIMEOUT_S}s (DIR=$DIR, port $PROXY_PORT)" >&2
    fi
    show_logs
    IF_SWIFT_LOCK_HELD=1 "$HERE/stop.sh" "$DIR" 9>&- >&2 || true
    exit 1
done

log "ready on 127.0.0.1:$PROXY_PORT in $(( $(now_ms) - START_MS )) ms (DIR=$DIR)"
print_env "$PROXY_PORT"
