#!/usr/bin/env bash
# The real pictures `make run` serves (samples/real_photos.sh) are made, carry their licences,
# decode, and are served as a newcomer should see them: the EXIF-oriented photograph upright,
# the icon with its transparency kept.
#   bash tests/deploy/real_samples_test.sh BUILD_DIR OUT_DIR
# Needs Debian's package archive (apt-get download, once: the .debs are cached in bench/out/cache).
set -euo pipefail
build=$(cd "$1" && pwd)
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
tool=$build/sample_tool
tmp=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$out"  # made afresh each run: the script's own output is under test
BUILD=$build bash "$root/samples/real_photos.sh" "$out" >/dev/null
for file in forest-path.jpg moss.jpg pier-exif6.jpg webcam.png; do
  [ -s "$out/$file" ] || fail "$file was not made"
  grep -q "^| $file | .* | .* | .* |$" "$out/LICENSES.md" || fail "LICENSES.md gives no source, author and licence for $file"
  "$tool" info "$out/$file" >/dev/null 2>&1 || fail "$file does not decode"
done
for copyright in COPYRIGHT-plasma-workspace-wallpapers COPYRIGHT-adwaita-icon-theme; do
  [ -s "$out/$copyright" ] || fail "no $copyright"
done
# The photographs and their turned copy: the file holds the pixels on their side, tagged 6.
read -r width height bands orientation _ < <("$tool" info "$out/pier-exif6.jpg" 2>/dev/null)
[ "$orientation" = 6 ] && [ "$width" -lt "$height" ] || fail "pier-exif6.jpg: ${width}x$height orientation $orientation"

# Served by the real server.
"$build/imageflex" serve --root "$out" --listen 127.0.0.1:0 >"$tmp/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  grep -q '"listening on' "$tmp/serve.log" && break
  sleep 0.1
done
port=$(sed -n 's/.*"listening on http:\/\/127.0.0.1:\([0-9]*\)".*/\1/p' "$tmp/serve.log" | head -1)
[ -n "$port" ] || { cat "$tmp/serve.log"; fail "the server did not start"; }
fetch() {  # PATH FILE: a 200 into FILE
  local status
  status=$(curl -s -o "$2" -w '%{http_code}' "http://127.0.0.1:$port$1")
  [ "$status" = 200 ] || fail "GET $1: $status"
}
# Upright: landscape, as the scene was shot, and no orientation left in the variant.
fetch '/pier-exif6.jpg?w=320&f=png' "$tmp/pier.png"
read -r width height bands orientation _ < <("$tool" info "$tmp/pier.png" 2>/dev/null)
[ "$width" = 320 ] && [ "$height" = 200 ] || fail "pier-exif6.jpg?w=320 is ${width}x$height, not upright 320x200"
# The cut-out keeps its transparency: about 40 % of the icon is clear.
fetch '/webcam.png?w=128&f=png' "$tmp/webcam.png"
read -r width height bands orientation transparent < <("$tool" info "$tmp/webcam.png" 2>/dev/null)
[ "$width" = 128 ] && [ "$bands" = 4 ] || fail "webcam.png?w=128: ${width}x$height, $bands bands"
awk "BEGIN { exit !($transparent > 25) }" || fail "webcam.png?w=128 is only $transparent % transparent"
fetch '/forest-path.jpg?w=400&f=webp' "$tmp/forest.webp"
read -r width height _ < <("$tool" info "$tmp/forest.webp" 2>/dev/null)
[ "$width" = 400 ] && [ "$height" = 250 ] || fail "forest-path.jpg?w=400 is ${width}x$height"
echo "PASS"
