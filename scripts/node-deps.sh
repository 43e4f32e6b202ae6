#!/usr/bin/env bash
# Installs the Node example's pinned packages (CodSpeed's tinybench and vitest
# integrations from the npm registry) into examples/node/node_modules. The
# end-to-end tests of CodSpeed's Node integrations run against them.
set -euo pipefail
cd "$(dirname "$0")/../examples/node"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.codspeed-go-lock; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.codspeed-go-lock
