#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt, clang 14, ASan + UBSan) and runs them:
#   fuzz/run.sh BUILD_DIR SECONDS [EXTRA_IMAGE_SEEDS_DIR...]
# For each target: every input in fuzz/crashes/<target>/ must run clean, then the target
# fuzzes for SECONDS from its seeds (fuzz/corpus/<target>/; the pipeline also from samples/
# and any extra image folders, such as the test fixtures), starting with a run of every
# seed. New inputs go to BUILD_DIR/corpus/<target>/ (kept between runs, never committed);
# a crash is written to BUILD_DIR/artifacts/ and fails the run. Used by the fuzz_smoke
# test (12 s a target) and by `make fuzz` (FUZZ_SECONDS, 600 s a target).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [EXTRA_IMAGE_SEEDS_DIR...]}
seconds=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [EXTRA_IMAGE_SEEDS_DIR...]}
shift 2
extra_image_seeds=()
for dir in "$@"; do [ -d "$dir" ] && extra_image_seeds+=("$dir"); done
targets=(request accept sigv4 pipeline)

cxx=${IMAGEFLEX_FUZZ_CXX:-clang++-14}
started=$(date +%s)
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$build" -j "$(nproc)"
echo "fuzz: built in $(($(date +%s) - started)) s"

# UBSan findings abort (the build says so too) with a stack; LSan skips the one library
# leak we know of (fuzz/lsan.supp).
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
mkdir -p "$build/artifacts"
failed=()
for target in "${targets[@]}"; do
  binary="$build/${target}_fuzzer"
  crashes=("$here/crashes/$target"/*)
  past=()
  for input in "${crashes[@]}"; do [ -f "$input" ] && past+=("$input"); done
  if [ ${#past[@]} -gt 0 ]; then
    echo "fuzz: $target: replaying ${#past[@]} past crash(es)"
    if ! "$binary" -timeout=25 -artifact_prefix="$build/artifacts/$target-replay-" "${past[@]}" >"$build/artifacts/$target-replay.log" 2>&1; then
      tail -n 40 "$build/artifacts/$target-replay.log"
      failed+=("$target (a past crash in fuzz/crashes/$target/ crashes again)")
      continue
    fi
  fi
  seeds=("$here/corpus/$target")
  options=(-timeout=25 -rss_limit_mb=2560 -print_final_stats=1)
  if [ "$target" = pipeline ]; then
    seeds+=("$here/../samples" "${extra_image_seeds[@]}")
    options+=(-max_len=65536)  # larger seeds are read cut short: small inputs fuzz faster
  fi
  mkdir -p "$build/corpus/$target"
  echo "fuzz: $target: ${seconds} s"
  log="$build/artifacts/$target.log"
  if "$binary" "${options[@]}" -max_total_time="$seconds" -artifact_prefix="$build/artifacts/$target-" \
      "$build/corpus/$target" "${seeds[@]}" >"$log" 2>&1; then
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed "s/^/fuzz: $target: /"
  else
    tail -n 60 "$log"
    failed+=("$target (the input is in $build/artifacts/)")
  fi
done
echo "fuzz: done in $(($(date +%s) - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: FAILED: %s\n' "${failed[@]}"
  exit 1
fi
