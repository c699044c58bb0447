#!/usr/bin/env bash
# ctest's playground_browser: installs playwright-core from package-lock.json into
# node_modules (git-ignored; only when the lock changed), then runs the test.
# usage: run.sh IMAGEFLEX FIXTURE_DIR SCREENSHOT [CHROMIUM]
set -euo pipefail
chromium=${4:-$(command -v chromium || true)}
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
  echo "chromium is not installed (scripts/install_deps.sh test installs it): skipped"
  exit 77
fi
cd "$(dirname "$0")"
if ! [ node_modules/.installed-from -nt package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.installed-from
fi
exec node playground.test.mjs "$1" "$2" "$3" "$chromium"
