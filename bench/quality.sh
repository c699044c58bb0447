#!/usr/bin/env bash
# The quality sweep behind the per-format defaults (see BENCHMARKS.md).
#
#   bash bench/quality.sh               full sweep: 6 photos, AVIF curves at efforts 0, 1, 2 (6-10 min)
#   bash bench/quality.sh --quick       the subset `make bench` runs: 3 photos, efforts 0 and 2 (2-4 min)
#   bash bench/quality.sh --fetch-only  fetch the photos and print their folder (bench/run.sh uses it)
#   REUSE_GRID=1 bash bench/quality.sh  keep bench/out/quality.csv's grid (from a run of the same
#                                       mode) and redo only the refinement and the tables
#
# Writes bench/out/quality.csv (the q sweep), bench/out/quality_effort.csv (AVIF effort at
# the chosen q) and bench/out/quality_summary.txt (the tables printed at the end).
#
# The rule: JPEG q80 is the anchor (the established web default). For WebP and for AVIF
# at each effort, the default q is the lowest q whose mean SSIM over the photos and both
# widths reaches JPEG q80's (the 5-step grid, then the crossing narrowed to one q). The
# AVIF effort is the one giving the smallest files at its q among those whose slowest
# 1200 px encode stays within BUDGET_MS of CPU time: AVIF is made on the critical path
# of a cold request, beside decoding and resizing, and the workers share the cores.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/bench/out
build=${BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
budget_ms=${BUDGET_MS:-150}

mode=full
case ${1:-} in
  "") ;;
  --quick) mode=quick ;;
  --fetch-only) mode=fetch ;;
  *) echo "usage: bash bench/quality.sh [--quick | --fetch-only]" >&2; exit 2 ;;
esac

# Natural photographs from Debian's mate-backgrounds (GPL-2+, so fetched, not committed):
# grass against sea and sky, dense blades of grass, a ladybird on bokeh, a storm sky with
# smooth gradients, wood grain, a marigold. Varied detail and smoothness, all >= 1280 px.
photo_package=mate-backgrounds
if [ "$mode" = quick ]; then
  photos=(Dune LadyBird Storm)
else
  photos=(Dune GreenMeadow LadyBird Storm Wood Garden)
fi

# Downloads the package once into bench/out/cache and keeps the photos in bench/out/photos.
fetch_photos() {
  local dir=$out/photos all=(Dune GreenMeadow LadyBird Storm Wood Garden) missing=0 name
  for name in "${all[@]}"; do [ -f "$dir/$name.jpg" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  mkdir -p "$out/cache" "$dir"
  if ! compgen -G "$out/cache/${photo_package}_*.deb" >/dev/null; then
    # apt-get download needs package lists; refresh them once if it cannot find the package.
    if ! (cd "$out/cache" && apt-get download -q "$photo_package" >"$out/cache/apt.log" 2>&1); then
      apt-get update -q >>"$out/cache/apt.log" 2>&1 || true
      (cd "$out/cache" && apt-get download -q "$photo_package" >>"$out/cache/apt.log" 2>&1) || {
        echo "quality.sh: cannot download $photo_package (see $out/cache/apt.log)" >&2
        return 1
      }
    fi
  fi
  local debs tmp
  debs=("$out/cache/${photo_package}"_*.deb)
  local deb=${debs[-1]}  # the highest version, should several have been downloaded
  tmp=$(mktemp -d)
  dpkg -x "$deb" "$tmp"
  for name in "${all[@]}"; do cp "$tmp/usr/share/backgrounds/mate/nature/$name.jpg" "$dir/"; done
  cp "$tmp/usr/share/doc/$photo_package/copyright" "$dir/COPYRIGHT"
  basename "$deb" >"$dir/SOURCE"
  rm -rf "$tmp"
}

fetch_photos
if [ "$mode" = fetch ]; then
  echo "$out/photos"
  exit 0
fi

# The sweep tool is a CMake target (it links the service's core, so it encodes exactly
# as a request does); build it if needed.
sweep=$build/bench/quality_sweep
if [ ! -f "$build/build.ninja" ]; then cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo; fi
cmake --build "$build" --target quality_sweep imageflex

# The configured defaults, from the server's own --help, to print beside the choice.
configured() {
  [ -x "$build/imageflex" ] || { echo "?"; return; }
  "$build/imageflex" --help | awk -v flag="--$1" '$1 == flag { gsub(/[][]/, "", $3); print $3; exit }'
}

paths=()
for name in "${photos[@]}"; do paths+=("$out/photos/$name.jpg"); done
if [ "$mode" = quick ]; then grid_efforts=0,2; effort_list=0,1,2,3,4; else grid_efforts=0,1,2; effort_list=0,1,2,3,4,6; fi

started=$(date +%s)
echo "quality sweep ($mode): ${photos[*]} from $(cat "$out/photos/SOURCE"); load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${REUSE_GRID:-0}" = 1 ] && [ -s "$out/quality.csv" ]; then
  echo "  reusing the grid in $out/quality.csv"
else
  "$sweep" --widths 1200,400 --repeats 3 --jpeg-q 50-95/5 --webp-q 50-95/5 --avif-q 30-80/5 \
    --avif-effort "$grid_efforts" "${paths[@]}" >"$out/quality.csv"
fi

# Reads quality.csv. With what=refine, prints "FORMAT EFFORT Q" for each series whose
# target crossing lies between two measured q more than 1 apart: the q interpolated
# between them, rounded up, to be measured next. With what=summary, prints the tables
# and writes the choices ("name value" lines) to the file named by `choices`.
summarise() {
  awk -F, -v what="$1" -v budget="$budget_ms" -v choices="${2:-/dev/null}" '
    NR == 1 { next }
    {
      key = $4 SUBSEP $6 SUBSEP $5
      series[$4 SUBSEP $6] = 1
      n[key]++; ssim[key] += $11
      if (!(key in ssim_min) || $11 < ssim_min[key]) ssim_min[key] = $11
      if ($2 == 1200) {
        n1200[key]++; bytes1200[key] += $7; ms1200[key] += $9; cpu1200[key] += $10
        if ($9 > max1200[key]) max1200[key] = $9
        if ($10 > maxcpu1200[key]) maxcpu1200[key] = $10
      } else if ($2 == 400) {
        n400[key]++; bytes400[key] += $7
      }
      if ($4 == "jpeg" && $5 == 80) { anchor_n++; anchor_ssim += $11 }
    }
    function avg(sum, count) { return count > 0 ? sum / count : 0 }
    function mean_ssim(f, e, q) { return ssim[f SUBSEP e SUBSEP q] / n[f SUBSEP e SUBSEP q] }
    function row(f, e, q,   k) {
      k = f SUBSEP e SUBSEP q
      printf "| %-4s | %6s | %3d | %.4f | %.4f | %8.1f | %7.1f | %7.1f | %6.1f | %6.1f | %7.1f |\n", f, (e < 0 ? "-" : e), q,
             ssim[k] / n[k], ssim_min[k], avg(bytes1200[k], n1200[k]) / 1024, avg(bytes400[k], n400[k]) / 1024,
             avg(ms1200[k], n1200[k]), max1200[k], avg(cpu1200[k], n1200[k]), maxcpu1200[k]
    }
    function header() {
      print "| fmt  | effort |   q | SSIM   | min    | KiB@1200 | KiB@400 | ms@1200 | max ms | cpu ms | max cpu |"
      print "|------|--------|-----|--------|--------|---------:|--------:|--------:|-------:|-------:|--------:|"
    }
    # The lowest measured q whose mean SSIM reaches the target (-1: none), and in lo_q
    # the highest measured q below it.
    function lowest_reaching(f, e,   q) {
      lo_q = -1
      for (q = 1; q <= 100; q++) {
        if (!((f SUBSEP e SUBSEP q) in n)) continue
        if (mean_ssim(f, e, q) >= target) return q
        lo_q = q
      }
      return -1
    }
    END {
      target = anchor_ssim / anchor_n
      order[1] = "jpeg"; order[2] = "webp"; order[3] = "avif"
      if (what == "refine") {
        for (i = 2; i <= 3; i++)
          for (e = -1; e <= 9; e++) {
            if (!((order[i] SUBSEP e) in series)) continue
            hi = lowest_reaching(order[i], e)
            if (hi < 0 || lo_q < 0 || hi - lo_q <= 1) continue
            s_lo = mean_ssim(order[i], e, lo_q); s_hi = mean_ssim(order[i], e, hi)
            q = lo_q + (target - s_lo) / (s_hi - s_lo) * (hi - lo_q)
            q = (q == int(q)) ? q : int(q) + 1
            if (q <= lo_q) q = lo_q + 1
            if (q >= hi) q = hi - 1
            print order[i], e, q
          }
        exit
      }
      printf "Target: mean SSIM of JPEG q80 = %.4f (%d photo x width pairs)\n\n", target, anchor_n
      print "Curves (mean over photos; SSIM over both widths, min = worst photo; sizes and times at 1200 px"
      print "unless marked; ms = wall, median of 3 runs; cpu = CPU time of all encoder threads):"
      header()
      for (i = 1; i <= 3; i++)
        for (e = -1; e <= 9; e++) {
          if (!((order[i] SUBSEP e) in series)) continue
          for (q = 1; q <= 100; q++) if ((order[i] SUBSEP e SUBSEP q) in n) row(order[i], e, q)
        }
      print ""
      print "Chosen q per format and AVIF effort (lowest q with mean SSIM >= target):"
      header()
      best_effort = -1
      for (i = 1; i <= 3; i++)
        for (e = -1; e <= 9; e++) {
          if (!((order[i] SUBSEP e) in series)) continue
          chosen = lowest_reaching(order[i], e)
          if (chosen < 0) {
            for (q = 1; q <= 100; q++) if ((order[i] SUBSEP e SUBSEP q) in n) chosen = q
            printf "(%s effort %s never reaches the target; its highest q shown)\n", order[i], e
          }
          row(order[i], e, chosen)
          if (order[i] != "avif") {
            print order[i] "_q " chosen > choices
            continue
          }
          # AVIF effort: within the budget, the smallest files; if none fits, the fastest.
          # The budget applies to CPU time: with as many transforms running as cores, an
          # encode gets one core, so its CPU time is its latency; and unlike wall time it
          # does not move when other work shares the machine.
          k = "avif" SUBSEP e SUBSEP chosen
          fits = maxcpu1200[k] <= budget
          size = bytes1200[k] / n1200[k]
          if (best_effort < 0 || (fits && !best_fits) || (fits && best_fits && size < best_size) ||
              (!fits && !best_fits && maxcpu1200[k] < best_cpu)) {
            best_effort = e; best_q = chosen; best_fits = fits; best_size = size; best_cpu = maxcpu1200[k]
          }
        }
      print "avif_q " best_q > choices
      print "avif_effort " best_effort > choices
      printf "\nAVIF: effort %d at q%d (%s the %d ms CPU budget for the slowest photo at 1200 px)\n", best_effort, best_q,
             (best_fits ? "within" : "nothing fits"), budget
    }' "$out/quality.csv"
}

# Narrow each target crossing down to a single q: measure the interpolated q, then again
# if the crossing is still between two measured q more than 1 apart (at most 3 rounds).
for _ in 1 2 3; do
  refine=$(summarise refine)
  [ -n "$refine" ] || break
  while read -r format effort q; do
    args=(--jpeg-q none --webp-q none --avif-q none)
    if [ "$format" = webp ]; then args=(--jpeg-q none --webp-q "$q" --avif-q none); fi
    if [ "$format" = avif ]; then args=(--jpeg-q none --webp-q none --avif-q "$q" --avif-effort "$effort"); fi
    echo "  refining $format$([ "$effort" -lt 0 ] || echo " effort $effort") at q$q"
    "$sweep" --widths 1200,400 --repeats 3 "${args[@]}" "${paths[@]}" | tail -n +2 >>"$out/quality.csv"
  done <<<"$refine"
done

choices=$out/quality_choices.txt
summary=$out/quality_summary.txt
summarise summary "$choices" >"$summary"
choice() { awk -v name="$1" '$1 == name { print $2 }' "$choices"; }
avif_q=$(choice avif_q)

# The effort ladder at the chosen q, at 1200 px: what each step buys and costs.
"$sweep" --widths 1200 --repeats 3 --jpeg-q none --webp-q none --avif-q "$avif_q" --avif-effort "$effort_list" \
  "${paths[@]}" >"$out/quality_effort.csv"
{
  echo
  echo "AVIF effort ladder at q$avif_q, 1200 px (mean over photos; SSIM at 1200 px only):"
  echo "| effort | KiB@1200 | SSIM   | ms@1200 | max ms | cpu ms | max cpu |"
  echo "|-------:|---------:|--------|--------:|-------:|-------:|--------:|"
  awk -F, 'NR > 1 {
      n[$6]++; b[$6] += $7; s[$6] += $11; t[$6] += $9; c[$6] += $10
      if ($9 > m[$6]) m[$6] = $9
      if ($10 > mc[$6]) mc[$6] = $10
    }
    END { for (e = 0; e <= 9; e++) if (e in n)
            printf "| %6d | %8.1f | %.4f | %7.1f | %6.1f | %6.1f | %7.1f |\n", e, b[e] / n[e] / 1024, s[e] / n[e],
                   t[e] / n[e], m[e], c[e] / n[e], mc[e] }' "$out/quality_effort.csv"
  echo
  echo "| format | measured default | configured now |"
  echo "|--------|------------------|----------------|"
  echo "| jpeg   | q$(choice jpeg_q) | q$(configured quality-jpeg) |"
  echo "| webp   | q$(choice webp_q) | q$(configured quality-webp) |"
  echo "| avif   | q$avif_q effort $(choice avif_effort) | q$(configured quality-avif) effort $(configured avif-effort) |"
  echo
  echo "($mode sweep of ${#photos[@]} photos, $(($(date +%s) - started)) s; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');"
  echo " load average at the end $(cut -d' ' -f1-3 /proc/loadavg): wall times above it are inflated, CPU times much less)"
} >>"$summary"
cat "$summary"
