#!/usr/bin/env bash
# A corpus of large real images for the memory and performance benchmarks, from Debian's
# plasma-workspace-wallpapers (KDE's wallpapers; LGPL-3 / CC-BY-SA, so fetched, never committed):
#
#   bash bench/corpus.sh [OUT_DIR]      default OUT_DIR: bench/out/corpus; prints OUT_DIR at the end
#
#   OUT_DIR/2560x1600/NAME.jpg   12 of its wallpapers at 2560x1600, JPEGs as shipped
#   OUT_DIR/5120x2880/NAME.jpg   its 12 wallpapers at 5120x2880: the 6 shipped as JPEG as they are,
#                                the 6 shipped as PNG re-encoded as JPEG q92 (imageflex convert,
#                                BUILD=build), so every request decodes a JPEG of the same size
#   OUT_DIR/COPYRIGHT, SOURCE    the package's copyright file and the .deb's name
#
# Idempotent: the .deb is downloaded once (apt-get download, into OUT_DIR/../cache) and the files
# are made only when missing. Nothing is installed: the package is unpacked with dpkg -x.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bench/out/corpus}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=$(dirname "$out")/cache
build=${BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
package=plasma-workspace-wallpapers
sizes=(2560x1600 5120x2880)
per_size=12

complete() {
  local size count
  for size in "${sizes[@]}"; do
    count=$(find "$out/$size" -maxdepth 1 -name '*.jpg' 2>/dev/null | wc -l)
    [ "$count" -ge "$per_size" ] || return 1
  done
  [ -f "$out/COPYRIGHT" ]
}

if complete; then
  echo "$out"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb=$(bash "$root/scripts/debian_package.sh" "$package" "$cache" "$tmp")
wallpapers=$tmp/usr/share/wallpapers

# The name of a wallpaper file: its theme, with "-dark" for the dark variant (images_dark/).
name_of() {
  local theme variant
  theme=$(basename "$(dirname "$(dirname "$(dirname "$1")")")")
  variant=$(basename "$(dirname "$1")")
  [ "$variant" = images_dark ] && theme=$theme-dark
  echo "$theme"
}

for size in "${sizes[@]}"; do
  mkdir -p "$out/$size"
  while read -r file; do
    name=$(name_of "$file")
    target=$out/$size/$name.jpg
    [ -f "$target" ] && continue
    case $file in
      *.jpg) cp "$file" "$target" ;;
      *.png)
        [ -x "$build/imageflex" ] || { echo "corpus.sh: $build/imageflex is needed for the PNGs (make build)" >&2; exit 1; }
        # The service's own pipeline, at the original size (f alone converts); to a temporary name
        # first, so an interrupted run leaves no half-written JPEG behind.
        "$build/imageflex" convert "$file" "$target.tmp.jpg" f=jpeg q=92 >/dev/null 2>&1
        mv "$target.tmp.jpg" "$target"
        ;;
    esac
  done < <({ find "$wallpapers" -path "*/images*/$size.jpg" | sort; find "$wallpapers" -path "*/images*/$size.png" | sort; } |
             head -n "$per_size")  # JPEGs as shipped first
done
cp "$tmp/usr/share/doc/$package/copyright" "$out/COPYRIGHT"
basename "$deb" >"$out/SOURCE"
complete || { echo "corpus.sh: fewer than $per_size images of each size in $deb" >&2; exit 1; }
echo "$out"
