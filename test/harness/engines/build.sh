#!/usr/bin/env bash
# Builds every engine the end-to-end suite needs (cached outside the clone; a warm run takes seconds):
# the Kubernetes binaries, metrics-server, the S3 store (versitygw), the Pulumi CLI and its Kubernetes provider,
# the Gateway API's and cert-manager's CRDs, Prometheus, and the custom metrics adapter.
# One build at a time per cache: a second caller (test:e2e while .ci/run's early build still runs)
# waits for the first and then finds everything built.
here=$(dirname "$0")
source "$here/lib.sh"
mkdir -p "$ENGINES_CACHE"
exec 9>"$ENGINES_CACHE/.build.lock"
flock 9
started=$SECONDS
for engine in kubernetes metrics-server versitygw pulumi kubernetes-provider crds prometheus metrics-adapter; do
    echo "engines: $engine in $(bash "$here/$engine.sh")" >&2
done
echo "engines: ready in $((SECONDS - started))s" >&2
