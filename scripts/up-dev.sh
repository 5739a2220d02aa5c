#!/usr/bin/env bash
# The main job: `pulumi up` on the dev stack, against the local Docker engine,
# with state kept in ./.pulumi-state (Pulumi.yaml's backend) - no account needed.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in pulumi node; do
  command -v "$tool" >/dev/null || { echo "up:dev needs '$tool' on PATH; see the README's quick start" >&2; exit 1; }
done
if command -v docker >/dev/null && ! docker version >/dev/null 2>&1; then
  echo "up:dev needs a running Docker engine: 'docker version' cannot reach one" >&2
  exit 1
fi

[[ -d node_modules ]] || npm ci
# The program consumes the component package as published: build it first.
npx tsc -b components

# The file backend in Pulumi.yaml refuses a state directory that does not exist yet.
mkdir -p .pulumi-state
# The dev stack holds no secrets; an empty passphrase keeps the local backend non-interactive.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
pulumi stack select dev --create --non-interactive
pulumi up --stack dev --yes "$@"
pulumi stack output apps --stack dev --json
echo "server: curl http://127.0.0.1:8080/"
