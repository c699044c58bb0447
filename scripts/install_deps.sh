#!/usr/bin/env bash
# Installs the Debian 12 packages Image Flex needs, only those missing.
#   scripts/install_deps.sh build   compiler, CMake, libvips, Boost, libcurl, OpenSSL, GoogleTest, Google Benchmark (bench/), JSON,
#                                   jemalloc (the allocator; docs/operations.md, "Memory"),
#                                   and what `make lambda` bundles with (zip, patchelf, CA certificates)
#   scripts/install_deps.sh test    build + what the tests use: Swift S3 and nginx (integration), lcms tools (colour), clang-tidy (lint),
#                                   clang 14 with its libFuzzer runtime (fuzz)
set -euo pipefail
what=${1:-build}
packages=(g++ cmake ninja-build pkg-config make libvips-dev libboost1.74-dev libcurl4-openssl-dev libssl-dev
          libgtest-dev googletest libbenchmark-dev nlohmann-json3-dev libjemalloc-dev zip unzip patchelf ca-certificates)
if [ "$what" = test ]; then
  # liblcms2-utils: the colour reference (jpgicc, tificc); libgs-common: CMYK and grey ICC profiles.
  # clang-14, libclang-rt-14-dev: the fuzz targets (fuzz/), libFuzzer with ASan and UBSan.
  # python3, openssl: the signing recipes of docs/operations.md, run by UrlGuardsServerTest.
  packages+=(swift swift-proxy swift-account swift-container swift-object memcached nginx-light curl
             liblcms2-utils libgs-common clang-tidy clang-14 libclang-rt-14-dev python3 openssl)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# nginx-light's package starts a system nginx on port 80; the tests start their own.
if printf '%s\n' "${missing[@]}" | grep -q '^nginx'; then
  (systemctl disable --now nginx || service nginx stop || true) >/dev/null 2>&1
fi
