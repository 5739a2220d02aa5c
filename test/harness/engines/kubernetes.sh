#!/usr/bin/env bash
# Builds the Kubernetes binaries the end-to-end cluster runs (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl) from the Go module k8s.io/kubernetes, and prints the
# directory holding them. etcd, containerd, runc and the CNI plugins come from Debian.
source "$(dirname "$0")/lib.sh"
VERSION="${KUBERNETES_VERSION:-v1.37.2}"
COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
dir=$(engine_dir kubernetes "$VERSION")

build() {
    local src staging
    src="$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
    # k8s.io/kubernetes points every staging module at ./staging; each is also published on its
    # own as v0.<minor>.<patch>. The sample-* modules are examples nothing here imports.
    staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$src/go.mod" | grep -v '/sample-')
    {
        echo "module dockyard.local/kubernetes"
        echo
        sed -n 's/^\(go \|godebug \).*/&/p' "$src/go.mod"
        echo
        echo "require k8s.io/kubernetes $VERSION"
        echo
        for m in $staging; do echo "replace $m => $m v0.${VERSION#v1.}"; done
    } > go.mod
    printf 'package tools\n\nimport (\n' > tools.go
    for c in "${COMMANDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c" >> tools.go; done
    printf ')\n' >> tools.go
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
    # Without the stamp /version reports v0.0.0, which clients and the provider treat as ancient.
    local stamp="-s -w -X k8s.io/component-base/version.gitVersion=$VERSION -X k8s.io/client-go/pkg/version.gitVersion=$VERSION"
    stamp+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$VERSION" | cut -d. -f2)"
    # One invocation for all six: the package graph is loaded and hashed once, and the links run in parallel.
    echo "engines: go build ${COMMANDS[*]}" >&2
    mkdir -p bin
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$stamp" -o bin/ "${COMMANDS[@]/#/k8s.io/kubernetes/cmd/}"
}

[ -x "$dir/bin/kubectl" ] || { echo "engines: building kubernetes $VERSION (about 25 minutes cold on 2 cores, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
