#!/usr/bin/env bash
# Installs what a fresh machine lacks and starts a Docker engine. Used by CI
# (.ci/run) and by the benchmarks; extra Debian packages may be named as arguments.
set -euo pipefail

sudo=""
[[ $(id -u) -eq 0 ]] || sudo=sudo

# busybox-static gives the offline Go base image its shell; docker-registry is the push tests'
# registry (apache2-utils makes its htpasswd); shellcheck lets actionlint check run: blocks; tmux is the
# real terminal the watch:dev Ctrl-C test types into; prometheus (the server, not started as a service) scrapes
# server's metrics in the Docker suite. The
# end-to-end cluster's node and control plane take the rest: etcd-server, containerd, runc and the CNI
# plugins, iptables and conntrack for kube-proxy, ipset for kube-router's NetworkPolicy rules, socat to
# reach into the cluster's network namespace, openssl for its certificates.
packages=(busybox-static docker-registry apache2-utils shellcheck tmux prometheus
  etcd-server containernetworking-plugins iptables conntrack ipset socat openssl iproute2 util-linux
  "$@")
# An engine already on the machine is used as it is: GitHub's ubuntu-24.04 runners come with Docker CE
# (docker-ce, containerd.io, whose runc is inside it), and Debian's docker.io, containerd and runc
# conflict with those packages. Debian's are the fallback on a machine that has none.
for tool in dockerd:docker.io containerd:containerd runc:runc; do
  command -v "${tool%%:*}" >/dev/null || packages+=("${tool#*:}")
done
need=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
# What would be installed, and nothing done: the unit suite checks the choice on a made-up machine.
if [[ -n ${DOCKYARD_INSTALL_PLAN:-} ]]; then
  echo "${need[*]}"
  exit 0
fi
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  # No init system runs here: keep package scripts from starting etcd or containerd as services.
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod +x /usr/sbin/policy-rc.d
  $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
  $sudo rm -f /usr/sbin/policy-rc.d
fi

docker_cli=/usr/bin/docker
[[ -x $docker_cli ]] || docker_cli=docker
if ! $sudo "$docker_cli" version >/dev/null 2>&1; then
  $sudo sh -c 'nohup dockerd >/tmp/dockyard-dockerd.log 2>&1 &'
  for _ in $(seq 60); do $sudo "$docker_cli" version >/dev/null 2>&1 && break; sleep 1; done
  $sudo "$docker_cli" version >/dev/null || { cat /tmp/dockyard-dockerd.log; echo "dockerd did not start" >&2; exit 1; }
fi
