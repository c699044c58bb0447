#!/usr/bin/env bash
# Installs the Debian 12 packages Image Flex needs, only those missing.
#   scripts/install_deps.sh build   compiler, CMake, libvips, Boost, libcurl, OpenSSL, GoogleTest, Google Benchmark (bench/), JSON,
#                                   jemalloc (the allocator; docs/operations.md, "Memory"),
#                                   and what `make lambda` bundles with (zip, patchelf, CA certificates)
#   scripts/install_deps.sh test    build + what the tests use: Swift S3 and nginx (integration), ModSecurity and the OWASP
#                                   Core Rule Set (the edge, deploy/edge), lcms tools (colour), clang-tidy (lint), promtool (metrics),
#                                   Chromium and Node.js (the playground page),
#                                   clang 14 with its libFuzzer runtime (fuzz)
#   scripts/install_deps.sh bench   test + what `make bench` runs beside the service: wrk (load), gnuplot-nox
#                                   (charts), Node.js and npm (the sharp and ipx peers; their npm packages are
#                                   installed by the benchmark itself, npm ci in bench/peers)
set -euo pipefail
what=${1:-build}
packages=(g++ cmake ninja-build pkg-config make libvips-dev libboost1.74-dev libcurl4-openssl-dev libssl-dev
          libgtest-dev googletest libbenchmark-dev nlohmann-json3-dev libjemalloc-dev zip unzip patchelf ca-certificates)
if [ "$what" = test ] || [ "$what" = bench ]; then
  # liblcms2-utils: the colour reference (jpgicc, tificc); libgs-common: CMYK and grey ICC profiles.
  # clang-14, libclang-rt-14-dev: the fuzz targets (fuzz/), libFuzzer with ASan and UBSan.
  # python3, openssl: the signing recipes of docs/operations.md, run by UrlGuardsServerTest.
  # libnginx-mod-http-modsecurity, modsecurity-crs: the edge's WAF (EdgeTest; it loads into nginx-light).
  # prometheus: promtool checks /_imageflex/metrics and deploy/monitoring/ (MetricsTest).
  # chromium: the playground page's test in headless Chromium (tests/browser/), driven from Node.js.
  packages+=(swift swift-proxy swift-account swift-container swift-object memcached nginx-light curl
             libnginx-mod-http-modsecurity modsecurity-crs chromium
             liblcms2-utils libgs-common clang-tidy clang-14 libclang-rt-14-dev python3 openssl prometheus)
  # Node.js from Debian or another source (NodeSource's 20 bundles npm): only what is absent.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi
if [ "$what" = bench ]; then
  packages+=(wrk gnuplot-nox)
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
# prometheus starts a system Prometheus on port 9090; the tests need only its promtool.
if printf '%s\n' "${missing[@]}" | grep -q '^prometheus$'; then
  (systemctl disable --now prometheus || service prometheus stop || true) >/dev/null 2>&1
fi
