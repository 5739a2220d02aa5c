#!/usr/bin/env bash
# Builds every engine the end-to-end suite needs (cached outside the clone; a warm run takes seconds):
# the Kubernetes binaries and metrics-server, the custom metrics adapter (right after them: it compiles little
# of its own then), the S3 store (versitygw), the Pulumi CLI and its Kubernetes provider, the Gateway API's
# and cert-manager's CRDs, Prometheus, kube-router (the NetworkPolicy enforcer), Skipper (the ingress proxy) and
# cert-manager's controller. Each line says how long its engine took, for docs/testing.md.
# One build at a time per cache: a second caller (test:e2e while .ci/run's early build still runs)
# waits for the first and then finds everything built.
here=$(dirname "$0")
source "$here/lib.sh"
mkdir -p "$ENGINES_CACHE"
exec 9>"$ENGINES_CACHE/.build.lock"
flock 9
started=$SECONDS
for engine in kubernetes metrics-adapter versitygw pulumi kubernetes-provider crds prometheus kube-router skipper cert-manager; do
    at=$SECONDS
    bin=$(bash "$here/$engine.sh")
    echo "engines: $engine in $bin ($((SECONDS - at))s, $((SECONDS - started))s in)" >&2
done
echo "engines: ready in $((SECONDS - started))s" >&2
