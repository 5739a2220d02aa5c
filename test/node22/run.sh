#!/usr/bin/env bash
# The suites that need no engine (unit and package) once more on Node 22, the older LTS that
# `engines` admits, against the same node_modules: what differs between the two is the runtime.
set -euo pipefail
cd "$(dirname "$0")/../.."
PATH="$(bash .ci/install-node.sh 22.23.5):$PATH"
echo "test:node22: $(node --version)"
npm run test:unit
npm run test:package
