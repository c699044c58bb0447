#!/usr/bin/env bash
# Builds the AWS Lambda bundle (provided.al2023, x86_64) from a Debian 12 build:
#   scripts/lambda_bundle.sh BINARY OUT_DIR   →   OUT_DIR/imageflex-lambda.zip
#
#   bootstrap                          the imageflex binary itself (Lambda runs `bootstrap`; see main)
#   lib/                               every shared library it needs, glibc and its loader included,
#                                      since Amazon Linux 2023's glibc is older than Debian 12's
#   lib/x86_64-linux-gnu/vips-modules-8.14/vips-heif.so
#                                      libvips' HEIF/AVIF module (Debian builds HEIF as a module), where
#                                      libvips looks with VIPSHOME=/var/task/lib: $VIPSHOME/ + the last
#                                      part of its build-time libdir + /vips-modules-MAJOR.MINOR
#   certs/ca-certificates.crt          Debian's CA bundle, for HTTPS to S3
#   config/dev.toml, staging.toml, prod.toml
#                                      the environment profiles: the stack sets IF_ENV to its
#                                      environment and IF_CONFIG_DIR=/var/task/config
#
# bootstrap's interpreter is /var/task/lib/ld-linux-x86-64.so.2 (Lambda unpacks to /var/task)
# and every ELF file finds its libraries through DT_RPATH ($ORIGIN-relative). RPATH, not
# RUNPATH: Lambda sets LD_LIBRARY_PATH=...:/lib64:/usr/lib64:..., which would win over a RUNPATH
# and mix Amazon Linux's libraries into ours. Fails if any library resolves outside the bundle
# or if the bundle is over Lambda's 250 MB unzipped.
set -euo pipefail
binary=$1
out=$2
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
started=$(date +%s)
task_root=/var/task
max_unzipped=$((250 * 1024 * 1024))
vips_libdir=$(pkg-config --variable=libdir vips)
vips_modules=$(basename "$vips_libdir")/vips-modules-$(pkg-config --modversion vips | cut -d. -f1,2)
modules=("$vips_libdir/$(basename "$vips_modules")/vips-heif.so")
ca_bundle=/etc/ssl/certs/ca-certificates.crt

for tool in patchelf zip; do
  command -v "$tool" >/dev/null || { echo "lambda_bundle: $tool is missing (run: make deps)" >&2; exit 1; }
done
[ -r "$ca_bundle" ] || { echo "lambda_bundle: $ca_bundle is missing (apt-get install ca-certificates)" >&2; exit 1; }

stage=$out/bundle
zip_file=$out/imageflex-lambda.zip
rm -rf "$stage" "$zip_file"
mkdir -p "$stage/lib/$vips_modules" "$stage/certs" "$stage/config"

# Debug information stays in the build tree; it is most of the binary's size.
objcopy --strip-debug "$binary" "$stage/bootstrap"
for module in "${modules[@]}"; do cp "$module" "$stage/lib/$vips_modules/"; done
cp "$ca_bundle" "$stage/certs/ca-certificates.crt"
cp "$source_dir"/config/{dev,staging,prod}.toml "$stage/config/"

# The libraries, as Debian's own loader resolves them (file contents, under their sonames).
loader=
while read -r name arrow path _; do
  if [ "$arrow" = "=>" ] && [ -f "$path" ]; then
    cp -L "$path" "$stage/lib/$name"
  elif [[ "$name" == /*/ld-linux-x86-64.so.2 ]]; then
    loader=$name
  fi
done < <(ldd "$binary" "${modules[@]}" | grep -v ':$')
[ -n "$loader" ] || { echo "lambda_bundle: no ELF interpreter found for $binary" >&2; exit 1; }
cp -L "$loader" "$stage/lib/ld-linux-x86-64.so.2"

patchelf --set-interpreter "$task_root/lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath '$ORIGIN/lib' \
  "$stage/bootstrap"
for module in "$stage/lib/$vips_modules"/*.so; do patchelf --force-rpath --set-rpath '$ORIGIN/../..' "$module"; done
for library in "$stage"/lib/*.so*; do
  case $(basename "$library") in
    # glibc's own libraries need nothing but each other and the loader: leave them as built.
    ld-linux-x86-64.so.2 | libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | libresolv.so.2) ;;
    *) patchelf --force-rpath --set-rpath '$ORIGIN' "$library" ;;
  esac
done

# Every library must resolve inside the bundle, with the bundle's loader, without the loader
# cache, with no LD_LIBRARY_PATH and with one pointing at the system's libraries.
stage_abs=$(cd "$stage" && pwd)
check() {
  local listing
  for library_path in "" "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64"; do
    if ! listing=$(env -i LD_LIBRARY_PATH="$library_path" "$stage_abs/lib/ld-linux-x86-64.so.2" --inhibit-cache \
                     --list "$1" 2>&1); then
      echo "lambda_bundle: $1 does not load from the bundle:" >&2
      echo "$listing" >&2
      exit 1
    fi
    outside=$(echo "$listing" | awk -v root="$stage_abs/" '$2 == "=>" && index($3, root) != 1')
    if [ -n "$outside" ]; then
      echo "lambda_bundle: $1 resolves libraries outside the bundle:" >&2
      echo "$outside" >&2
      exit 1
    fi
  done
}
check "$stage_abs/bootstrap"
for module in "$stage_abs/lib/$vips_modules"/*.so; do check "$module"; done

unzipped=$(du -sb "$stage" | cut -f1)
if [ "$unzipped" -gt "$max_unzipped" ]; then
  echo "lambda_bundle: $unzipped bytes unzipped, over Lambda's limit of $max_unzipped" >&2
  exit 1
fi

# Fixed order and timestamps: the same build gives the same zip (and the same CodeSha256).
find "$stage" -exec touch -h -d @315532800 {} +
(cd "$stage" && find . -type f | LC_ALL=C sort | zip -q -X -@ "$(cd .. && pwd)/$(basename "$zip_file")")
echo "lambda_bundle: $zip_file: $(stat -c %s "$zip_file") bytes zipped, $unzipped unzipped," \
     "$(find "$stage/lib" -name '*.so*' | wc -l) libraries, $(($(date +%s) - started)) s"
