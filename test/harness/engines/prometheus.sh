#!/usr/bin/env bash
# Builds the Prometheus server from the Go module github.com/prometheus/prometheus (v0.316.0 is Prometheus
# 3.16) and prints the directory holding it. Debian's prometheus 2.42 is built without Kubernetes service
# discovery ("field kubernetes_sd_configs not found"); this build keeps that one discovery and drops the
# other clouds' (the module's own build tags), and serves its HTTP API without the bundled web UI.
source "$(dirname "$0")/lib.sh"
VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
dir=$(engine_dir prometheus "$VERSION")

build() {
    GOBIN="$PWD/bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" -tags remove_all_sd,enable_kubernetes_sd \
        "github.com/prometheus/prometheus/cmd/prometheus@$VERSION"
}

[ -x "$dir/bin/prometheus" ] || { echo "engines: building prometheus $VERSION (a few minutes, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
