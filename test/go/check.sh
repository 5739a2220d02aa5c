#!/usr/bin/env bash
# Vet, lint, security-scan and test every Go module of the repo: the apps (under -race) and the suite's own tools.
# The linters are pinned and installed into .tools/bin, so a fresh clone needs only Go.
set -euo pipefail
cd "$(dirname "$0")/../.."

export GOBIN="$PWD/.tools/bin"
export PATH="$GOBIN:$PATH"
install_tool() { # <binary> <module/cmd@version>
  local version=${2##*@}
  if [[ ! -x "$GOBIN/$1" ]] || ! grep -qxF "$version" "$GOBIN/.$1.version" 2>/dev/null; then
    go install "$2"
    echo "$version" > "$GOBIN/.$1.version"
  fi
}
install_tool staticcheck honnef.co/go/tools/cmd/staticcheck@v0.8.2
install_tool gosec github.com/securego/gosec/v2/cmd/gosec@v2.30.0

modules=(apps/hello apps/server test/k8scheck test/e2e/tools test/harness/kubernetes)
for mod in "${modules[@]}"; do
  echo "== $mod"
  (
    cd "$mod"
    # The harness's module is the one the cluster's engines build from: with their flags, vet and the tests
    # reuse the Kubernetes libraries those builds compiled instead of compiling them once more.
    if [[ $mod == test/harness/* ]]; then export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"; fi
    unformatted=$(gofmt -l .)
    [[ -z "$unformatted" ]] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
    go vet ./...
    staticcheck ./...
    gosec -quiet -fmt text ./...
    # The harness's tools run no concurrency of their own, and -race would compile the Kubernetes libraries
    # once more (minutes, on a cold machine).
    if [[ $mod == test/harness/* ]]; then go test -count=1 ./...; else go test -race -count=1 ./...; fi
  )
done
