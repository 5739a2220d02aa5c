#!/usr/bin/env bash
# Builds kube-router (github.com/cloudnativelabs/kube-router/v2) and prints the directory holding it. The
# cluster runs only its firewall: the NetworkPolicy enforcer of many production clusters, in iptables and
# ipsets on each node, which works with the suite's bridge CNI. v2.1.0 is the only version the Go module
# proxy serves, an old one with reported security flaws: tolerable for a test-only enforcer that guards the
# suite's own network namespaces, with kube-router's BGP router and service proxy left off.
source "$(dirname "$0")/lib.sh"
VERSION="${KUBE_ROUTER_VERSION:-v2.1.0}"
dir=$(engine_dir kube-router "$VERSION")

build() {
    GOBIN="$PWD/bin" CGO_ENABLED=0 go install -trimpath "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$VERSION"
}

[ -x "$dir/bin/kube-router" ] || { echo "engines: building kube-router $VERSION (about 3 minutes, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
