#!/usr/bin/env bash
# Builds cert-manager's controller (github.com/cert-manager/cert-manager, cmd/controller) and prints the
# directory holding it. Since v1.12 the controller's `main` is a module of its own, which the Go module proxy
# does not serve; v1.11.5, the last release whose root module holds it, is served and builds. It is old
# (2023; its reported flaws are tolerable for a test-only controller on the suite's own cluster); against today's
# CRDs (engines/crds.sh), which keep the v1 API it speaks, it issues from a CA issuer and writes the Certificate's
# `Ready`, all the W steps need (ACME is untried). A wrapper module carries the replace its go.mod declares.
source "$(dirname "$0")/lib.sh"
VERSION="${CERT_MANAGER_CONTROLLER_VERSION:-v1.11.5}"
dir=$(engine_dir cert-manager "$VERSION")

build() {
    cat > go.mod <<MOD
module dockyard.local/cert-manager

go 1.26

require github.com/cert-manager/cert-manager $VERSION

replace github.com/miekg/dns v1.1.41 => github.com/miekg/dns v1.1.34
MOD
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/cert-manager-controller \
        github.com/cert-manager/cert-manager/cmd/controller
}

[ -x "$dir/bin/cert-manager-controller" ] || { echo "engines: building cert-manager's controller $VERSION (a few minutes, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
