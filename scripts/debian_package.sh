#!/usr/bin/env bash
# Downloads a Debian package once and unpacks it, without installing it: the real images the
# benchmarks (bench/corpus.sh) and `make run` (samples/real_photos.sh) take from Debian.
#
#   bash scripts/debian_package.sh PACKAGE CACHE_DIR UNPACK_DIR
#
# The .deb is kept in CACHE_DIR (apt-get download, the package lists refreshed once if it is not
# found) and unpacked into UNPACK_DIR with dpkg -x; prints the .deb's path.
set -euo pipefail
package=$1
cache=$2
unpack=$3
mkdir -p "$cache" "$unpack"
if ! compgen -G "$cache/${package}_*.deb" >/dev/null; then
  log=$cache/apt-$package.log
  if ! (cd "$cache" && apt-get download -q "$package" >"$log" 2>&1); then
    apt-get update -q >>"$log" 2>&1 || true
    (cd "$cache" && apt-get download -q "$package" >>"$log" 2>&1) || {
      echo "debian_package.sh: cannot download $package (see $log)" >&2
      exit 1
    }
  fi
fi
debs=("$cache/${package}"_*.deb)
deb=${debs[-1]}  # the highest version, should several have been downloaded
dpkg -x "$deb" "$unpack"
echo "$deb"
