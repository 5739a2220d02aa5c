#!/usr/bin/env bash
# `npm run bench`: installs what the benchmarks need the way CI does (plus wrk),
# then runs them. Pass --write to regenerate bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
bash .ci/install-system.sh wrk
[[ -d node_modules ]] || npm ci
npx tsc -b components
npx ts-node --transpile-only bench/run.ts "$@"
