#!/usr/bin/env bash
# The deploy/aws tests, run by ctest (label aws): the pinned packages (npm ci when absent or
# stale), a type check, then node --test: the CloudFront Function on the shared Accept table,
# the three environments' templates with CDK assertions and cdk-nag, setup/update --dry-run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source ./common.sh
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || fail "the AWS tests need Node.js 20+ and npm (found: $(node --version 2>/dev/null || echo none))"
ensure_packages
npx --no-install tsc -p .
TS_NODE_TRANSPILE_ONLY=1 node -r ts-node/register --test test/*.test.js test/*.test.ts
