#!/usr/bin/env bash
# Builds Skipper (github.com/zalando/skipper), an HTTP router and ingress controller in pure Go that Zalando runs in
# front of its clusters, and prints the directory holding it. The suite's way in (the W steps) sends real HTTPS
# through it: it serves the Ingresses of one class and terminates TLS with their Secrets. The Go proxy serves
# its tagged versions by exact name only (it lists none), so `go install …@version` cannot look it up: a wrapper
# module requires it instead.
source "$(dirname "$0")/lib.sh"
VERSION="${SKIPPER_VERSION:-v0.23.0}"
dir=$(engine_dir skipper "$VERSION")

build() {
    cat > go.mod <<MOD
module dockyard.local/skipper

go 1.26

require github.com/zalando/skipper $VERSION
MOD
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/skipper github.com/zalando/skipper/cmd/skipper
}

[ -x "$dir/bin/skipper" ] || { echo "engines: building skipper $VERSION (a few minutes, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
