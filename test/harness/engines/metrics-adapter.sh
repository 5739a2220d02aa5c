#!/usr/bin/env bash
# Builds the suite's custom metrics adapter (../kubernetes/metrics-adapter: the stand-in for
# prometheus-adapter, which the Go module proxy does not serve) and prints the directory holding it.
# It is a package of the module kubernetes.sh builds from, with the same flags, so after that build only
# its own code compiles. Cached by the hash of the module's files: an edit to its code rebuilds it and nothing else
# (an edit to go.mod or go.sum rebuilds the Kubernetes binaries too, as it should).
source "$(dirname "$0")/lib.sh"
module=$(cd "$(dirname "$0")/../kubernetes" && pwd)
dir=$(engine_dir metrics-adapter "$(cat "$module"/go.mod "$module"/go.sum "$module"/metrics-adapter/*.go | sha256sum | cut -c1-16)")

build() {
    (cd "$module" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OLDPWD/bin/" ./metrics-adapter)
}

[ -x "$dir/bin/metrics-adapter" ] || { echo "engines: building the metrics adapter (under a minute after kubernetes.sh, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
