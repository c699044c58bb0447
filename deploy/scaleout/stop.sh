#!/usr/bin/env bash
# Stop what deploy/scaleout/start.sh started for DIR: nginx first (no new requests
# reach the nodes), then the imageflex nodes, then Swift (deploy/swift/stop.sh).
# Each gets SIGTERM, then SIGKILL after a grace period; waits until all are gone.
# Logs and the bucket's data stay in DIR (delete DIR yourself). Running it again,
# or on a DIR where nothing runs, does nothing and exits 0.
#
#   usage: stop.sh DIR
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
GRACE_S=${IF_SCALEOUT_STOP_GRACE:-10}

log() { echo "scaleout stop: $*" >&2; }

[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: $0 DIR" >&2; exit 2; }
if [ ! -d "$1" ]; then
  log "no such directory $1 (nothing to stop)"
  exit 0
fi
DIR=$(cd "$1" && pwd -P)

if [ -z "${IF_SCALEOUT_LOCK_HELD:-}" ]; then
  exec 9>"$DIR/.lock"
  flock -w 60 9 || { log "timed out waiting for $DIR/.lock"; exit 1; }
fi

# A pid is ours while it is alive (not a zombie: whoever reaps orphans here may be
# slow) and either its command line names DIR (nginx) or its environment carries
# IF_SCALEOUT_DIR=DIR (the nodes), so a recycled pid is never signalled.
ours() {
  local pid=$1 state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  # nginx rewrites its argv into one title string ("nginx: master process ...") and
  # reuses the environment's memory for it, so it is known by its command line.
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- " $DIR/nginx.conf " && return 0
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF -- "IF_SCALEOUT_DIR=$DIR"
}

# Live members of process group PGID (each was started by setsid as a group leader).
group_members() {
  ps -e -o pid=,pgid=,stat= 2>/dev/null | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# stop_group NAME PIDFILE...: SIGTERM to each process group, wait, SIGKILL leftovers.
stop_groups() {
  local name=$1; shift
  local f pid pids=() left
  for f in "$@"; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    if ours "$pid"; then
      pids+=("$pid")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  remaining() {
    local p
    for p in "${pids[@]}"; do
      if ours "$p" || [ -n "$(group_members "$p")" ]; then echo "$p"; fi
    done
  }
  local deadline=$(( $(date +%s) + GRACE_S ))
  while [ ${#pids[@]} -gt 0 ] && [ -n "$(remaining)" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 0.05
  done
  left=$( [ ${#pids[@]} -eq 0 ] || remaining )
  if [ -n "$left" ]; then
    log "$name still running after ${GRACE_S}s, sending SIGKILL: $left"
    for pid in $left; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 100); do
      [ -z "$(remaining)" ] && break
      sleep 0.05
    done
    left=$(remaining)
    if [ -n "$left" ]; then log "could not stop $name: $left"; return 1; fi
  fi
  [ ${#pids[@]} -eq 0 ] || log "stopped $name (${#pids[@]} process group(s))"
  rm -f "$@"
}

status=0
stop_groups nginx "$DIR/nginx/master.pid" || status=1
shopt -s nullglob
stop_groups nodes "$DIR"/node-*.pid || status=1
shopt -u nullglob
if [ -d "$DIR/swift" ]; then
  "$REPO/deploy/swift/stop.sh" "$DIR/swift" 9>&- || status=1
fi
rm -f "$DIR/env"
exit $status
