#!/usr/bin/env bash
# Builds metrics-server (the resource metrics API the HorizontalPodAutoscaler reads) from the Go module
# sigs.k8s.io/metrics-server and prints the directory holding it. On a real cluster it is the cluster's
# own add-on; the end-to-end harness runs it beside the control plane.
source "$(dirname "$0")/lib.sh"
VERSION="${METRICS_SERVER_VERSION:-v0.9.0}"
dir=$(engine_dir metrics-server "$VERSION")

build() {
    GOBIN="$PWD/bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/metrics-server/cmd/metrics-server@$VERSION"
}

[ -x "$dir/bin/metrics-server" ] || { echo "engines: building metrics-server $VERSION (a few minutes, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
