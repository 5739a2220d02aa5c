#!/usr/bin/env bash
# Builds the suite's custom metrics adapter (test/harness/metrics-adapter: the stand-in for
# prometheus-adapter, which the Go module proxy does not serve) and prints the directory holding it.
# Cached by the hash of its source, so an edit rebuilds it and nothing else does.
source "$(dirname "$0")/lib.sh"
src=$(cd "$(dirname "$0")/../metrics-adapter" && pwd)
dir=$(engine_dir metrics-adapter "$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-16)")

build() {
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OLDPWD/bin/" .)
}

[ -x "$dir/bin/metrics-adapter" ] || { echo "engines: building the metrics adapter (about 4 minutes cold, once)" >&2; build_into "$dir" build; }
echo "$dir/bin"
