#!/usr/bin/env bash
# Builds the Versity S3 Gateway (versitygw) from the Go module github.com/versity/versitygw and prints the
# directory holding it: an S3-compatible object store that teams run in production, here serving a plain
# directory (its posix backend). The end-to-end suite keeps its stacks' state in it, as CI keeps staging's
# and prod's in a bucket.
source "$(dirname "$0")/lib.sh"
VERSION="${VERSITYGW_VERSION:-v1.8.0}"
dir=$(engine_dir versitygw "$VERSION")

build() {
    GOBIN="$PWD/bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@$VERSION"
}

[ -x "$dir/bin/versitygw" ] || { echo "engines: building versitygw $VERSION (a few minutes, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
