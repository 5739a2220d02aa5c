#!/usr/bin/env bash
# The CustomResourceDefinitions the components' objects need the API server to know, with their real schemas
# and CEL rules: for a route, the Gateway API's standard channel (sigs.k8s.io/gateway-api) and cert-manager's
# (github.com/cert-manager/cert-manager, deploy/crds); for `metrics.scrape: serviceMonitor`, the Prometheus
# Operator's ServiceMonitor (github.com/prometheus-operator/prometheus-operator, example/prometheus-operator-crd;
# v0.89.0 is the newest the Go proxy serves of that root module). All come as Go modules; nothing is built.
# Prints the directory holding the YAML files.
source "$(dirname "$0")/lib.sh"
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.6.3}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.21.2}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.89.0}"
dir=$(engine_dir crds "gateway-api-$GATEWAY_API_VERSION-cert-manager-$CERT_MANAGER_VERSION-prometheus-operator-$PROMETHEUS_OPERATOR_VERSION")

module_dir() { # <module@version>
    go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

build() {
    cp "$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"/config/crd/standard/*.yaml bin/
    cp "$(module_dir "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION")"/deploy/crds/*.yaml bin/
    cp "$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml bin/
    chmod 644 bin/*.yaml
}

[ -d "$dir/bin" ] || { echo "engines: fetching the Gateway API, cert-manager and ServiceMonitor CRDs (once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
