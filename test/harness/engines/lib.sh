# shellcheck shell=bash
# Shared by the engine builds: where built binaries are cached (outside the clone, keyed by
# version, so a fresh clone on a warm machine rebuilds nothing) and how a wrapper module is made.
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"
# The compiler spends less time collecting garbage with a larger heap target: a cold metrics-server build
# took 265 s instead of 281 s here (GOGC 400 vs 100); the engines' builds are most of a cold CI run, and the
# machine has memory to spare.
export GOGC="${GOGC:-400}"
ENGINES_CACHE="${DOCKYARD_ENGINES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dockyard/engines}"

# The cache directory for <name>-<version>; its bin/ exists only once a build completed.
engine_dir() { echo "$ENGINES_CACHE/$1-$2"; }

# Runs "$@" with a fresh wrapper module directory as the working directory, then marks
# <dir>/bin complete by renaming it into place, so an interrupted build is never taken as done.
build_into() {
    local dir=$1; shift
    local work; work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    mkdir -p "$work/bin" "$dir"
    ( cd "$work" && "$@" )
    rm -rf "${dir:?}/bin" && mv "$work/bin" "$dir/bin"
}
