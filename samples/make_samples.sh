#!/usr/bin/env bash
# Regenerates the sample images that `make run` serves (needs libvips-tools).
# They are procedural, so they carry no copyright: a colour-field landscape, a round
# logo with transparency, and an animated spinner.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# landscape.jpg: 1200x800 gradient with soft waves.
vips xyz xyz.v 1200 800
vips extract_band xyz.v x.v 0 && vips extract_band xyz.v y.v 1
vips linear x.v r.v 0.2 0 && vips linear y.v g.v 0.3 0
vips add x.v y.v s.v && vips linear s.v b.v 0.1 30
vips sines sn.v 1200 800 --hfreq 3 --vfreq 2 && vips linear sn.v sn2.v 60 0
vips bandjoin "r.v g.v b.v" rgb0.v && vips add rgb0.v sn2.v rgb1.v
vips cast rgb1.v rgb.v uchar && vips copy rgb.v rgbs.v --interpretation srgb
vips jpegsave rgbs.v "$out/landscape.jpg" --Q 85 --strip
# logo.png: 256x256 orange disc on transparency.
vips black mask.v 256 256 && vips draw_circle mask.v 255 128 128 110 --fill
vips black base.v 256 256 --bands 3 && vips linear base.v col.v "0 0 0" "240 120 30"
vips cast col.v col8.v uchar && vips bandjoin "col8.v mask.v" rgba.v
vips copy rgba.v rgbas.v --interpretation srgb && vips pngsave rgbas.v "$out/logo.png" --strip
# spinner.gif: 8 frames of 96x96, a dot going round.
for i in 0 1 2 3 4 5 6 7; do
  x=$(awk "BEGIN{printf \"%d\", 48 + 32*cos($i*3.14159/4)}")
  y=$(awk "BEGIN{printf \"%d\", 48 + 32*sin($i*3.14159/4)}")
  vips black f$i.v 96 96 --bands 3 && vips linear f$i.v w$i.v "0 0 0" "255 255 255"
  vips cast w$i.v c$i.v uchar && vips draw_circle c$i.v "30 90 200" "$x" "$y" 12 --fill
  if [ "$i" = 0 ]; then cp c0.v strip0.v; else vips join "strip$((i-1)).v" "c$i.v" "strip$i.v" vertical; fi
done
vips copy strip7.v strips.v --interpretation srgb
vips gifsave strips.v "$out/spinner.gif" --page-height 96
