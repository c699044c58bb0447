#!/usr/bin/env bash
# Real pictures for `make run`, beside the synthetic samples: photographs and an icon from Debian
# packages, fetched and made here (never committed: they carry their authors' licences).
#
#   bash samples/real_photos.sh [OUT_DIR]     default OUT_DIR: samples/photos; prints OUT_DIR
#
#   forest-path.jpg   a photograph, 2560x1600, as the package ships it
#   moss.jpg          a photograph, 2560x1600, as shipped
#   pier-exif6.jpg    a photograph stored turned a quarter anticlockwise with EXIF Orientation 6:
#                     the service shows it upright (2560x1600), whatever the viewer does with EXIF
#   webcam.png        a 512x512 icon on transparency (a cut-out), as shipped
#   LICENSES.md       each file's source, author and licence; COPYRIGHT-<package>: the packages'
#                     copyright files
#
# From plasma-workspace-wallpapers (the .deb bench/corpus.sh also uses, cached in bench/out/cache)
# and adwaita-icon-theme, downloaded once with scripts/debian_package.sh (nothing is installed).
# The EXIF file is made with sample_tool (BUILD=build). Idempotent: done when LICENSES.md exists.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/samples/photos}
build=${BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
cache=$root/bench/out/cache
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -f "$out/LICENSES.md" ]; then
  echo "$out"
  exit 0
fi
[ -x "$build/sample_tool" ] || { echo "real_photos.sh: $build/sample_tool is needed (cmake --build $build --target sample_tool)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

wallpapers_deb=$(bash "$root/scripts/debian_package.sh" plasma-workspace-wallpapers "$cache" "$tmp/wallpapers")
icons_deb=$(bash "$root/scripts/debian_package.sh" adwaita-icon-theme "$cache" "$tmp/icons")
wallpapers=$tmp/wallpapers/usr/share/wallpapers

# A wallpaper's author and licence, from its metadata.json (the first "Name" is the first author's).
field() { grep -m1 "\"$2\":" "$wallpapers/$1/metadata.json" | sed 's/.*": *"\(.*\)",*$/\1/'; }

{
  echo "# Where these pictures come from"
  echo
  echo "Made by samples/real_photos.sh from Debian packages; not part of Image Flex's source."
  echo
  echo "| file | source | author | licence |"
  echo "|---|---|---|---|"
} >"$tmp/LICENSES.md"
wallpaper() {  # THEME TARGET NOTE
  echo "| $2 | $(basename "$wallpapers_deb"): wallpaper \"$1\" (images/1920x1080.jpg, 2560x1600 inside)$3 | $(field "$1" Name) | $(field "$1" License) |" \
    >>"$tmp/LICENSES.md"
}
cp "$wallpapers/Path/contents/images/1920x1080.jpg" "$tmp/forest-path.jpg"
wallpaper Path forest-path.jpg ""
cp "$wallpapers/OneStandsOut/contents/images/1920x1080.jpg" "$tmp/moss.jpg"
wallpaper OneStandsOut moss.jpg ""
"$build/sample_tool" orient "$wallpapers/BytheWater/contents/images/1920x1080.jpg" "$tmp/pier-exif6.jpg"
wallpaper BytheWater pier-exif6.jpg ", pixels turned, EXIF Orientation 6"
cp "$tmp/icons/usr/share/icons/Adwaita/512x512/devices/camera-web.png" "$tmp/webcam.png"
echo "| webcam.png | $(basename "$icons_deb"): icons/Adwaita/512x512/devices/camera-web.png | the GNOME Project | CC-BY-SA-3.0 or LGPL-3 |" \
  >>"$tmp/LICENSES.md"
{
  echo
  echo "The packages' copyright files, in full: COPYRIGHT-plasma-workspace-wallpapers, COPYRIGHT-adwaita-icon-theme."
} >>"$tmp/LICENSES.md"
cp "$tmp/wallpapers/usr/share/doc/plasma-workspace-wallpapers/copyright" "$tmp/COPYRIGHT-plasma-workspace-wallpapers"
cp "$tmp/icons/usr/share/doc/adwaita-icon-theme/copyright" "$tmp/COPYRIGHT-adwaita-icon-theme"

# LICENSES.md last: its presence says the set is whole.
cp "$tmp"/*.jpg "$tmp"/webcam.png "$tmp"/COPYRIGHT-* "$out/"
cp "$tmp/LICENSES.md" "$out/LICENSES.md"
echo "$out"
