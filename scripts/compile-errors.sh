#!/usr/bin/env bash
# Prints the Go compiler's own messages (file:line:column and text) for every app under the apps folder
# (default: apps), or only for the apps named after it, that does not compile, and exits 1 if any. The
# docker provider reports a failed build step as one line ("executor failed running [go build ...]: exit
# code: 1") and keeps the compiler's words for --debug, so scripts/dev.sh runs this after a failed preview
# or up, and watch:dev after a failed update. Needs Go on PATH.
#   scripts/compile-errors.sh [apps-folder [app...]]
set -uo pipefail
apps=${1:-apps}
shift || true
command -v go >/dev/null || exit 0
if (($# > 0)); then dirs=("${@/#/$apps/}"); else dirs=("$apps"/*/); fi
failed=0
for dir in "${dirs[@]}"; do
  dir=${dir%/}
  [[ -f $dir/go.mod ]] || continue
  if ! out=$(cd "$dir" && CGO_ENABLED=0 go build -o /dev/null ./... 2>&1); then
    printf '\n%s does not compile:\n%s\n' "$dir" "$out" >&2
    failed=1
  fi
done
exit "$failed"
