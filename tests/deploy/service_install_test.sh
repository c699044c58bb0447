#!/usr/bin/env bash
# `cmake --install` lays out the service where Debian expects it, and the systemd unit it writes
# is valid:
#   1. DESTDIR with the /usr prefix: /usr/bin/imageflex, /usr/lib/systemd/system/imageflex.service,
#      /etc/imageflex/imageflex.env, the docs under /usr/share/doc/imageflex; the unit names them.
#   2. A plain prefix (a temporary folder): `systemd-analyze verify` on the unit there (it needs
#      ExecStart's binary to exist), and the installed binary starts with the installed settings.
#   bash tests/deploy/service_install_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
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
[ -f "$dest/etc/imageflex/imageflex.env" ] || fail "no /etc/imageflex/imageflex.env"
for doc in README.md operations.md architecture.md monitoring/alerts.yml monitoring/dashboard.json; do
  [ -f "$dest/usr/share/doc/imageflex/$doc" ] || fail "no /usr/share/doc/imageflex/$doc"
done
grep -qx 'ExecStart=/usr/bin/imageflex serve' "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx 'EnvironmentFile=-/etc/imageflex/imageflex.env' "$unit" || fail "EnvironmentFile: $(grep EnvironmentFile "$unit")"
! grep -Eq '@[A-Z_]+@' "$unit" || fail "unfilled placeholder: $(grep -E '@[A-Z_]+@' "$unit")"
for setting in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes 'ReadWritePaths=' 'MemoryMax=' \
               'SystemCallFilter=@system-service'; do
  grep -q "^$setting" "$unit" || fail "the unit lacks $setting"
done
# A second install keeps the admin's settings.
echo "IF_LISTEN=127.0.0.1:1" >>"$dest/etc/imageflex/imageflex.env"
DESTDIR=$tmp/dest cmake --install "$build" --prefix /usr >/dev/null
grep -q '^IF_LISTEN=127.0.0.1:1$' "$dest/etc/imageflex/imageflex.env" || fail "reinstall overwrote the settings file"

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
# The settings file as systemd reads it (KEY=VALUE lines, # comments), with the store and port
# moved to the test's own: every other setting in it must be one the binary accepts.
mkdir -p "$tmp/store"
env_args=()
while IFS= read -r line; do
  case $line in ''|'#'*) continue ;; esac
  env_args+=("$line")
done <"$prefix/etc/imageflex/imageflex.env"
env "${env_args[@]}" IF_ROOT="$tmp/store" IF_LISTEN=127.0.0.1:0 "$prefix/bin/imageflex" serve >"$tmp/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  grep -q '"listening on' "$tmp/serve.log" && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.log"; fail "the installed binary did not start"; }
  sleep 0.1
done
grep -q '"listening on' "$tmp/serve.log" || { cat "$tmp/serve.log"; fail "no 'listening' line"; }
echo "PASS"
