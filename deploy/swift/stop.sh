#!/usr/bin/env bash
# Stop every process that deploy/swift/start.sh started for DIR, using the pid
# files in DIR/run: each server runs in its own process group, which gets
# SIGTERM, then SIGKILL after a grace period.  Waits until all have exited.
# State, config and logs under DIR are left in place (delete DIR yourself).
#
#   usage: stop.sh DIR
set -uo pipefail

[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: $0 DIR" >&2; exit 2; }
if [ ! -d "$1" ]; then
    echo "swift stop: no such directory $1 (nothing to stop)" >&2
    exit 0
fi
DIR=$(cd "$1" && pwd -P)
RUN=$DIR/run
GRACE_S=${IF_SWIFT_STOP_GRACE:-10}

if [ -z "${IF_SWIFT_LOCK_HELD:-}" ]; then
    exec 9>"$DIR/.lock"
    flock -w 60 9 || { echo "swift stop: timed out waiting for $DIR/.lock" >&2; exit 1; }
fi

# A pid counts only while it is alive (zombies do not count: whoever reaps
# orphans here may take seconds to do it) and its command line mentions DIR,
# so a recycled pid of an unrelated process is never signalled.
ours() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DIR/"
}

# Live (non-zombie) members of process group PGID; each server was started
# as a session and process group leader, so PGID is its pid.
group_members() {
    ps -e -o pid=,pgid=,stat= 2>/dev/null \
        | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

pids=()
for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    case $f in *.self.pid) continue ;; esac
    pid=$(cat "$f" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && { ours "$pid" || [ -n "$(group_members "$pid")" ]; }; then
        pids+=("$pid")
        # memcached only notices SIGTERM on its next 1 s clock tick and holds
        # nothing worth keeping: kill it outright.
        sig=TERM
        [ "$(basename "$f")" = memcached.pid ] && sig=KILL
        kill -"$sig" -- "-$pid" 2>/dev/null || kill -"$sig" "$pid" 2>/dev/null || true
    fi
done

deadline=$(( $(date +%s) + GRACE_S ))
remaining() {
    local p
    for p in "${pids[@]}"; do
        if ours "$p" || [ -n "$(group_members "$p")" ]; then echo "$p"; fi
    done
}
while [ -n "$(remaining)" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 0.05
done
left=$(remaining)
if [ -n "$left" ]; then
    echo "swift stop: still running after ${GRACE_S}s, sending SIGKILL: $left" >&2
    for p in $left; do
        kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    done
    for _ in $(seq 1 100); do
        [ -z "$(remaining)" ] && break
        sleep 0.05
    done
fi
left=$(remaining)
if [ -n "$left" ]; then
    echo "swift stop: could not stop: $left" >&2
    exit 1
fi
rm -f "$RUN"/*.pid "$RUN/proxy.port"
echo "swift stop: stopped ${#pids[@]} process group(s) for $DIR" >&2
exit 0
