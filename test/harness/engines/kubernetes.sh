#!/usr/bin/env bash
# Builds the cluster's Kubernetes binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy, kubectl) and metrics-server (the resource metrics API the HorizontalPodAutoscaler reads; on a
# real cluster an add-on, here run beside the control plane), and prints the directory holding them. etcd,
# containerd, runc and the CNI plugins come from Debian.
#
# They are the tools of one checked-in module (../kubernetes), which the custom metrics adapter also builds
# from: one module graph, so every library they share (the API server's, client-go, ...) resolves to one
# version and compiles once into Go's build cache instead of once per program. Built with the same flags
# as metrics-adapter.sh for the same reason.
source "$(dirname "$0")/lib.sh"
module=$(cd "$(dirname "$0")/../kubernetes" && pwd)
VERSION=$(cd "$module" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
dir=$(engine_dir kubernetes "$VERSION-$(cat "$module"/go.mod "$module"/go.sum | sha256sum | cut -c1-16)")

build() {
    local out=$PWD/bin
    cd "$module" || return
    # Without the stamp /version reports v0.0.0, which clients and the provider treat as ancient.
    local stamp="-s -w -X k8s.io/component-base/version.gitVersion=$VERSION -X k8s.io/client-go/pkg/version.gitVersion=$VERSION"
    stamp+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$VERSION" | cut -d. -f2)"
    # One invocation for all six: the package graph is loaded and hashed once, and the links run in parallel.
    echo "engines: go build kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl" >&2
    CGO_ENABLED=0 go build -trimpath -ldflags "$stamp" -o "$out/" \
        k8s.io/kubernetes/cmd/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kube-proxy,kubectl}
    # Its own version stamp is not Kubernetes's.
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/" sigs.k8s.io/metrics-server/cmd/metrics-server
}

[ -x "$dir/bin/metrics-server" ] || { echo "engines: building kubernetes $VERSION and metrics-server (about 25 minutes cold on 2 cores, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
