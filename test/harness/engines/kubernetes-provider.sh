#!/usr/bin/env bash
# Builds the Pulumi Kubernetes provider (pulumi-resource-kubernetes) from the Go module
# github.com/pulumi/pulumi-kubernetes/provider/v4 and prints the directory holding it. The engine
# uses a provider binary found on PATH, so tests put this directory first.
source "$(dirname "$0")/lib.sh"
# The proxy serves this module at pseudo-versions only; this is its newest commit there.
VERSION="${K8S_PROVIDER_VERSION:-v4.0.0-20260115033456-f47bc2d6f199}"
# The provider's go.mod points the Kubernetes SDK at a sibling folder. A tagged release stands in: the
# newest that the checksum database verifies and whose requirements keep pulumi/sdk/v3 at or below
# the v3.215.0 this provider commit pins (v4.26.0 has no checksum entry).
SDK_VERSION="${K8S_PROVIDER_SDK_VERSION:-v4.25.0}"
MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
dir=$(engine_dir pulumi-resource-kubernetes "$VERSION")

build() {
    cat > go.mod <<MOD
module dockyard.local/pulumi-resource-kubernetes

go 1.24

require (
	$MODULE $VERSION
	github.com/pulumi/pulumi-kubernetes/sdk/v4 $SDK_VERSION
)
MOD
    src="$(GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
    # The main package embeds schema-embed.json and terraform-mapping-embed.json, which its own
    # generate.go writes from schema.json and terraform-mapping.json; the module zip carries only those.
    mkdir main && cp "$src"/cmd/pulumi-resource-kubernetes/{main.go,generate.go,schema.json,terraform-mapping.json} main/
    chmod u+w main/*
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
    # -trimpath as in the build below, so the packages both compile (the Pulumi SDK, its codegen schema) are
    # compiled once and taken from the build cache the second time.
    ( cd main && VERSION="${VERSION#v}" GOFLAGS=-mod=mod go run -trimpath generate.go )
    rm main/generate.go
    GOFLAGS=-mod=mod go build -trimpath \
        -ldflags "-s -w -X $MODULE/pkg/version.Version=${VERSION#v}" \
        -o bin/pulumi-resource-kubernetes ./main
}

[ -x "$dir/bin/pulumi-resource-kubernetes" ] || { echo "engines: building pulumi-resource-kubernetes $VERSION (minutes, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
