#!/usr/bin/env bash
# The dev stack: the local Docker engine, state in ./.pulumi-state (Pulumi.yaml's backend), no account.
#   scripts/dev.sh up|preview|destroy [pulumi flags...]   what `pulumi <verb> --stack dev` does, made safe to run first
#   scripts/dev.sh watch                                  up, then again after every save (scripts/watchDev.ts)
#   scripts/dev.sh recover [--force]                      clean up after an interrupted up (up does it by itself)
#   scripts/dev.sh prune [--keep N]                       remove image tags the stack no longer uses
set -euo pipefail
cd "$(dirname "$0")/.."
verb=${1:-}
shift || true
case $verb in up | preview | destroy | watch | recover | prune) ;; *)
  echo "usage: scripts/dev.sh up|preview|destroy|watch|recover|prune [args]" >&2
  exit 2
  ;;
esac

for tool in pulumi node; do
  command -v "$tool" >/dev/null || { echo "dev.sh needs '$tool' on PATH; see the README's quick start" >&2; exit 1; }
done
if command -v docker >/dev/null && ! docker version >/dev/null 2>&1; then
  echo "the dev stack needs a running Docker engine: 'docker version' cannot reach one" >&2
  exit 1
fi

# dev holds no secrets: its passphrase is empty, and Pulumi.dev.yaml carries the matching salt, so
# nothing prompts and creating the stack leaves the tracked file as checked in.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
# First, before anything else can fail: from here on `pulumi config set ... --stack dev` works too.
# On the embedded backend the stack's file says it exists, which saves a CLI start on every run.
if [[ -n ${PULUMI_BACKEND_URL:-} || ! -f .pulumi-state/.pulumi/stacks/dockyard/dev.json ]]; then
  pulumi stack select dev --create --non-interactive >/dev/null
fi

if [[ ! -d node_modules ]]; then npm ci; fi
ts() { node -r ts-node/register/transpile-only "$@"; }

# The program depends on @pulumi/kubernetes too, so the engine would fetch that provider on every run
# until it has it (seconds, and offline it retries each time); dev needs only the docker provider.
# Install that one explicitly, once, then turn the automatic fetching off.
docker_provider() {
  [[ -z ${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-} ]] || return 0
  if ! command -v pulumi-resource-docker >/dev/null; then
    local version plugins
    version=$(node -p 'require("@pulumi/docker/package.json").version')
    plugins=${PULUMI_HOME:-$HOME/.pulumi}/plugins
    [[ -d $plugins/resource-docker-v$version ]] || pulumi plugin install resource docker "$version" ||
      { echo "the dev stack needs the Pulumi docker provider $version: 'pulumi plugin install resource docker $version' failed" >&2; exit 1; }
  fi
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
}

# The program consumes the component package as published: build it when its sources changed.
build_components() {
  if [[ ! -f components/bin/index.js ]] || [[ -n $(find components -path components/node_modules -prune -o -path components/bin -prune -o -name '*.ts' -newer components/bin/index.js -print -quit) ]]; then
    npx tsc -b components
  fi
}

# The provider hides the compiler's messages behind "exit code: 1": after a failure, say them.
explain_failure() { bash scripts/compile-errors.sh || true; }

# A terminal shows the provider's build progress in place; a log would get a line per BuildKit event.
pulumi_quiet() {
  if [[ -t 1 ]]; then
    pulumi "$@"
  else
    pulumi "$@" 2>&1 | ts scripts/buildProgress.ts
  fi
}

case $verb in
  # Reads no resource (pending operations only): no provider is needed, so none is fetched.
  recover) PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true ts scripts/recover.ts --stack dev "$@" ;;
  prune) ts scripts/devStack.ts prune dev "$@" ;;
  destroy)
    docker_provider
    pulumi destroy --stack dev --yes "$@"
    ;;
  watch)
    docker_provider
    build_components
    exec node -r ts-node/register/transpile-only scripts/watchDev.ts dev
    ;;
  preview | up)
    docker_provider
    build_components
    if [[ $verb == preview ]]; then
      pulumi_quiet preview --stack dev --refresh=false "$@" || { explain_failure; exit 1; }
      exit 0
    fi
    # --skip-preview: with --yes the preview only prints, and costs a second run of the program and of
    # every changed image's build. `preview:dev` and pull requests still build in previews.
    # --refresh=false: Pulumi.yaml refreshes every operation (drift on shared stacks); on dev it would read
    # every container and image again on each edit.
    update() { pulumi_quiet up --stack dev --yes --skip-preview --refresh=false "$@"; }
    if ! update "$@"; then
      explain_failure
      # An interrupted up leaves a container holding the port and a pending create; a failed one
      # may have left them too. Clean up what is provably ours and try once more.
      recovered=$(ts scripts/recover.ts --stack dev)
      echo "$recovered"
      [[ $recovered != "nothing to recover"* ]] || exit 1
      update "$@"
    fi
    ;;
esac
