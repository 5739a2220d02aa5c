#!/usr/bin/env bash
# Validates the GitHub workflows offline with a pinned actionlint (which also
# runs shellcheck on `run:` blocks when shellcheck is installed), so a broken
# workflow fails here rather than on GitHub.
set -euo pipefail
cd "$(dirname "$0")/../.."

export GOBIN="$PWD/.tools/bin"
version=v1.7.12
if [[ ! -x "$GOBIN/actionlint" ]] || ! grep -qxF "$version" "$GOBIN/.actionlint.version" 2>/dev/null; then
  go install "github.com/rhysd/actionlint/cmd/actionlint@$version"
  echo "$version" > "$GOBIN/.actionlint.version"
fi
command -v shellcheck >/dev/null || echo "note: shellcheck not installed; run: blocks are not linted" >&2

"$GOBIN/actionlint"
workflows=(.github/workflows/*.yml)
echo "actionlint: ${#workflows[@]} workflows clean"

# The check must be able to fail: a workflow with a bad expression and an unknown input is refused.
control=$(mktemp -d)
trap 'rm -rf "$control"' EXIT
mkdir -p "$control/.github/workflows"
cat > "$control/.github/workflows/broken.yml" <<'YAML'
on: push
jobs:
  x:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
        with:
          no-such-input: true
      - run: echo "${{ github.nope.deeper }"
YAML
if (cd "$control" && "$GOBIN/actionlint" >/dev/null 2>&1); then
  echo "actionlint accepted a broken workflow: the check is not working" >&2
  exit 1
fi
echo "actionlint: broken control workflow rejected, as it should be"

# The shell scripts CI and the suites run, held to the same standard as the workflows' run: blocks.
shellcheck -S warning -x .ci/run .ci/*.sh test/harness/*.sh test/harness/engines/*.sh test/*/*.sh bench/run.sh
echo "shellcheck: scripts clean"
