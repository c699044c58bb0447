#!/usr/bin/env bash
# Install the Debian packages needed by deploy/swift/start.sh (OpenStack Swift
# with the s3api middleware, plus memcached), if any is missing.
# Runs apt-get update only when something has to be installed.
set -euo pipefail

PKGS=(swift swift-proxy swift-account swift-container swift-object memcached)

missing=()
for p in "${PKGS[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "swift: all packages already installed (${PKGS[*]})" >&2
    exit 0
fi

echo "swift: installing missing packages: ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends \
    swift swift-proxy swift-account swift-container swift-object memcached

# The Debian packages may start system-wide services (memcached on :11211,
# swift servers on the default ports) through their init scripts.  The test
# instances started by start.sh do not need them; they are left untouched.

/usr/bin/python3 -c 'import swift.common.ring, swift.common.middleware.s3api' \
    || { echo "swift: python3-swift is not importable by /usr/bin/python3" >&2; exit 1; }
echo "swift: packages installed" >&2
