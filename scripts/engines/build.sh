#!/usr/bin/env bash
# Builds every engine the end-to-end suite needs (cached outside the clone; a warm run takes seconds):
# the Kubernetes binaries, metrics-server, the Pulumi CLI and the Pulumi Kubernetes provider.
set -euo pipefail
here=$(dirname "$0")
started=$SECONDS
for engine in kubernetes metrics-server pulumi kubernetes-provider; do
    echo "engines: $engine in $(bash "$here/$engine.sh")" >&2
done
echo "engines: ready in $((SECONDS - started))s" >&2
