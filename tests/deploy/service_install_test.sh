#!/usr/bin/env bash
# `cmake --install` lays out the service where Debian expects it, and the systemd unit it writes
# is valid:
#   1. DESTDIR with the /usr prefix: /usr/bin/imageflex, /usr/lib/systemd/system/imageflex.service,
#      /etc/imageflex/imageflex.env, the docs under /usr/share/doc/imageflex; the unit names them.
#   2. A plain prefix (a temporary folder): `systemd-analyze verify` and `security` on the unit
#      there (verify needs ExecStart's binary to exist), and the three profiles beside the settings.
#   3. The unit's own ExecStart=, Environment= and EnvironmentFile= run unprivileged over its own
#      store folder (a tmpfs in a private mount namespace): a signed variant is made and stored,
#      and the prod profile's refusals hold. Needs root (exit 77 without).
#   bash tests/deploy/service_install_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
server=
pid=
cleanup() {
  # server is unshare, which ignores SIGTERM while it waits; pid is the service it started
  # (--kill-child: killing unshare kills it too).
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; elif [ -n "$server" ]; then kill -KILL "$server" 2>/dev/null; fi
  [ -n "$server" ] && wait "$server" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. The Debian layout.
DESTDIR=$tmp/dest cmake --install "$build" --prefix /usr >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
dest=$tmp/dest
[ -x "$dest/usr/bin/imageflex" ] || fail "no /usr/bin/imageflex"
unit=$dest/usr/lib/systemd/system/imageflex.service
[ -f "$unit" ] || fail "no /usr/lib/systemd/system/imageflex.service"
for file in imageflex.env dev.toml staging.toml prod.toml; do
  [ -f "$dest/etc/imageflex/$file" ] || fail "no /etc/imageflex/$file"
done
for doc in README.md operations.md architecture.md monitoring/alerts.yml monitoring/dashboard.json; do
  [ -f "$dest/usr/share/doc/imageflex/$doc" ] || fail "no /usr/share/doc/imageflex/$doc"
done
grep -qx 'ExecStart=/usr/bin/imageflex serve' "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx 'EnvironmentFile=-/etc/imageflex/imageflex.env' "$unit" || fail "EnvironmentFile: $(grep EnvironmentFile "$unit")"
grep -qx 'Environment=IF_ENV=prod IF_CONFIG_DIR=/etc/imageflex' "$unit" || fail "Environment: $(grep '^Environment=' "$unit")"
! grep -Eq '@[A-Z_]+@' "$unit" || fail "unfilled placeholder: $(grep -E '@[A-Z_]+@' "$unit")"
for setting in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes 'ReadWritePaths=' 'MemoryMax=' \
               'SystemCallFilter=@system-service'; do
  grep -q "^$setting" "$unit" || fail "the unit lacks $setting"
done
# A second install keeps the admin's settings and profiles.
echo "IF_LISTEN=127.0.0.1:1" >>"$dest/etc/imageflex/imageflex.env"
echo "queue = 5" >>"$dest/etc/imageflex/prod.toml"
DESTDIR=$tmp/dest cmake --install "$build" --prefix /usr >/dev/null
grep -q '^IF_LISTEN=127.0.0.1:1$' "$dest/etc/imageflex/imageflex.env" || fail "reinstall overwrote the settings file"
grep -q '^queue = 5$' "$dest/etc/imageflex/prod.toml" || fail "reinstall overwrote the prod profile"

# 2. A prefix of its own: the unit verifies, and the binary serves with the settings installed.
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
unit=$prefix/lib/systemd/system/imageflex.service
grep -qx "ExecStart=$prefix/bin/imageflex serve" "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx "EnvironmentFile=-$prefix/etc/imageflex/imageflex.env" "$unit" || fail "EnvironmentFile"
if command -v systemd-analyze >/dev/null; then
  # --man=no: the Documentation= link is a local file, not a man page to look up.
  systemd-analyze verify --man=no "$unit" >"$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log"; fail "systemd-analyze verify"; }
  if grep -i 'imageflex.service' "$tmp/verify.log"; then fail "systemd-analyze verify warns about the unit"; fi
  # systemd's own exposure score of the hardening (0 best, 10 worst): this unit scores 1.4.
  systemd-analyze security --offline=yes --threshold=20 "$unit" >"$tmp/security.log" 2>&1 ||
    { tail -3 "$tmp/security.log"; fail "exposure above 2.0"; }
else
  echo "systemd-analyze not installed: unit not verified"
fi
for profile in dev staging prod; do
  [ -f "$prefix/etc/imageflex/$profile.toml" ] || fail "no $prefix/etc/imageflex/$profile.toml"
done

# 3. The service as the unit runs it, short of systemd itself (not PID 1 here): the unit's exact
#    ExecStart=, with the unit's Environment= and then its EnvironmentFile= (which wins, as in
#    systemd), in an otherwise empty environment, as an unprivileged user with no new privileges,
#    over the unit's own store folder (its StateDirectory=, in ReadWritePaths=) on a tmpfs in a
#    private mount namespace. What the admin adds to the settings file: keys (the unit's prod
#    profile refuses to start without them) and, for the test, a free port.
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v setpriv >/dev/null; then
  echo "SKIP: running the unit's command needs root, unshare and setpriv"
  exit 77
fi
unit_values() { sed -n "s/^$1=//p" "$unit"; }
exec_start=$(unit_values ExecStart)
read -r -a command <<<"$exec_start"
env_file=$(unit_values EnvironmentFile)
env_file=${env_file#-}
store=$(unit_values ReadWritePaths)
store=${store#-}
[ "$store" = "/var/lib/$(unit_values StateDirectory)" ] || fail "ReadWritePaths $store is not the StateDirectory"
unit_env=()
while read -r -a words; do unit_env+=("${words[@]}"); done < <(unit_values Environment)
! printf '%s\n' "${unit_env[@]}" | grep -q '["\\]' || fail "Environment= has quoting this test does not parse"
key=$(printf 'k%.0s' $(seq 40))
printf 'IF_SIGN_KEYS=%s\nIF_LISTEN=127.0.0.1:0\n' "$key" >>"$env_file"
settings=("${unit_env[@]}")
while IFS= read -r line; do
  case $line in ''|'#'*) continue ;; esac
  settings+=("$line")
done <"$env_file"
printf '%s\n' "${settings[@]}" | grep -qx "IF_ROOT=$store" || fail "the settings file's IF_ROOT is not $store"

chmod 755 "$tmp"  # the unprivileged user runs the installed binary from under it
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2016 # the inner shell expands its own arguments
unshare --mount --propagation private --fork --kill-child -- sh -c '
  store=$1 original=$2; shift 2
  mount -t tmpfs -o mode=0755 imageflex-test /var/lib && mkdir -p "$store" &&
    cp "$original" "$store/photo.jpg" && chown -R nobody:nogroup "$store" || exit 1
  exec setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs env -i "$@"' \
  sh "$store" "$source_dir/samples/landscape.jpg" "${settings[@]}" "${command[@]}" >"$tmp/unit.log" 2>&1 &
server=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*"listening on http:\/\/127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$tmp/unit.log")
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/unit.log"; fail "the unit's command did not start"; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/unit.log"; fail "no 'listening' line"; }
pid=$(ps -o pid= --ppid "$server" | tr -d ' ')
[ "$(ps -o user= -p "$pid")" = nobody ] || fail "not running as nobody: $(ps -o user= -p "$pid")"
grep -q "\"env\":\"prod\".*\"profile\":\"$prefix/etc/imageflex/prod.toml\"" "$tmp/unit.log" ||
  { cat "$tmp/unit.log"; fail "not started under the installed prod profile"; }

base=http://127.0.0.1:$port
target=$(env -i "${settings[@]}" "${command[0]}" sign '/photo.jpg?w=64&f=webp')
got=$(curl -s -o "$tmp/variant.webp" -w '%{http_code} %{content_type}' "$base$target")
[ "$got" = "200 image/webp" ] || fail "GET $target: $got"
made=$("${command[0]}" convert "$tmp/variant.webp" "$tmp/variant.png")
[[ $made == *": png 64x"* ]] || fail "the variant decodes as: $made"
# Written where the unit lets it write, by the unprivileged user.
variants=$(find "/proc/$pid/root$store/_imageflex" -type f -user nobody | wc -l)
[ "$variants" -ge 1 ] || fail "no variant written under $store/_imageflex"
# The prod profile is in effect: unsigned URLs and the playground are refused.
got=$(curl -s -o /dev/null -w '%{http_code}' "$base/photo.jpg?w=64")
[ "$got" = 403 ] || fail "unsigned GET: $got (want 403)"
got=$(curl -s -o /dev/null -w '%{http_code}' "$base/_imageflex/playground")
[ "$got" = 404 ] || fail "playground: $got (want 404, off in prod)"
grep -q '^{"env":"prod","time":' "$tmp/unit.log" || { cat "$tmp/unit.log"; fail "the access log does not name prod"; }
echo "PASS"
