#!/usr/bin/env bash
# Installs what a fresh machine lacks and starts a Docker engine. Used by CI
# (.ci/run) and by the benchmarks; extra Debian packages may be named as arguments.
set -euo pipefail

sudo=""
[[ $(id -u) -eq 0 ]] || sudo=sudo

# Debian's docker.io is the engine (and a BuildKit-capable client); busybox-static
# gives the offline Go base image its shell; docker-registry is the push tests'
# registry; shellcheck lets actionlint check run: blocks.
need=()
command -v dockerd >/dev/null || need+=(docker.io)
[[ -x /bin/busybox ]] || need+=(busybox-static)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v shellcheck >/dev/null || need+=(shellcheck)
for pkg in "$@"; do command -v "$pkg" >/dev/null || need+=("$pkg"); done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

docker_cli=/usr/bin/docker
[[ -x $docker_cli ]] || docker_cli=docker
if ! $sudo "$docker_cli" version >/dev/null 2>&1; then
  $sudo sh -c 'nohup dockerd >/tmp/dockyard-dockerd.log 2>&1 &'
  for _ in $(seq 60); do $sudo "$docker_cli" version >/dev/null 2>&1 && break; sleep 1; done
  $sudo "$docker_cli" version >/dev/null || { cat /tmp/dockyard-dockerd.log; echo "dockerd did not start" >&2; exit 1; }
fi
