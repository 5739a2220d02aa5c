#!/usr/bin/env bash
# Builds the Pulumi CLI from the Go module github.com/pulumi/pulumi/pkg/v3 (no prebuilt download is
# reachable here) and prints the directory holding `pulumi`. Its version is .pulumi.version, which the
# workflows install too and a unit test holds equal to the npm SDK's, so the Automation API, the CLI
# the suite drives and the CLI that deploys all speak the same protocol.
source "$(dirname "$0")/lib.sh"
VERSION="${PULUMI_VERSION:-v$(tr -d '[:space:]' < "$(dirname "$0")/../../../.pulumi.version")}"
dir=$(engine_dir pulumi "$VERSION")

build() {
    # pkg's go.mod replaces sdk with a sibling folder and clipboard with a fork; a module that requires
    # both at one version and repeats the fork's replace builds the CLI as released.
    cat > go.mod <<MOD
module dockyard.local/pulumi-cli

go 1.25

require (
	github.com/pulumi/pulumi/pkg/v3 $VERSION
	github.com/pulumi/pulumi/sdk/v3 $VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
    echo 'package tools; import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"' > tools.go
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
    GOFLAGS=-mod=mod go build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
        -o bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

[ -x "$dir/bin/pulumi" ] || { echo "engines: building pulumi $VERSION (minutes, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
