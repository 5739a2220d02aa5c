#!/usr/bin/env bash
# Prints the bin directory of Node.js <version> (default: the one in .node-version), installing it
# first when this machine lacks it. The binary is the official build the npm registry ships as
# node-<os>-<arch> (npm checks the tarball against the registry's integrity hash), cached outside the
# clone so a fresh clone on a warm machine downloads nothing. The machine's own npm runs on it.
#   export PATH="$(bash .ci/install-node.sh):$PATH"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${1:-$(tr -d '[:space:]' < "$root/.node-version")}
version=${version#v}

# Already the active Node: nothing to install.
if [ "$(node --version 2>/dev/null)" = "v$version" ]; then
  dirname "$(command -v node)"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "install-node: no Node.js package for $(uname -m)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "install-node: npm is needed to fetch Node.js $version" >&2; exit 1; }

dir="${DOCKYARD_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dockyard/node}/$version"
if [ ! -x "$dir/bin/node" ]; then
  echo "install-node: Node.js $version from the npm registry's node-linux-$arch (once)" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  npm pack --silent --pack-destination "$work" "node-linux-$arch@$version" >/dev/null
  mkdir -p "$work/unpacked"
  tar -xzf "$work"/node-linux-"$arch"-*.tgz -C "$work/unpacked" --strip-components=1 package/bin/node package/LICENSE
  [ "$("$work/unpacked/bin/node" --version)" = "v$version" ] || { echo "install-node: the package did not hold Node.js $version" >&2; exit 1; }
  # Moved into place whole, so an interrupted install is never taken for a finished one.
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir" && mv "$work/unpacked" "$dir"
fi
echo "$dir/bin"
