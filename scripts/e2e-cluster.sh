#!/usr/bin/env bash
# A real single-node Kubernetes cluster for the end-to-end suite, and a registry with a password.
#
#   e2e-cluster.sh up <state-dir>     start everything; writes <state-dir>/cluster.json
#   e2e-cluster.sh down <state-dir>   stop everything and put the host back (idempotent)
#   e2e-cluster.sh sweep              `down` every state dir whose owner process is gone
#
# Everything runs inside a network namespace made here: etcd, the control plane, containerd, the
# kubelet, kube-proxy and the registry. socat forwards two loopback ports of the host into it (the
# API server, the registry), so the engine and the Docker engine reach them as 127.0.0.1:<port>,
# the same name the node pulls from. What the kubelet changes on the host (three sysctls, a few
# directories, cgroups) is recorded before it starts and restored by `down`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

NODE=dockyard-node
NODE_IP=10.217.0.2
POD_CIDR=10.218.0.0/24
SERVICE_CIDR=10.219.0.0/24
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)
# Host paths the kubelet, containerd or the CNI plugins create when they are missing.
# (/var/run is a link to /run: each path is named once, as it really is.)
HOST_PATHS=(/var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/containerd /run/netns /etc/cni /opt/cni)
CGROUP_ROOT=dockyard-e2e

log() { echo "e2e-cluster: $*" >&2; }

free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 20000))
        ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
    return 1
}

# Starts a daemon in its own session (a terminal's Ctrl-C reaches only the test process, whose
# handler runs `down`), inside the cluster's network namespace unless told otherwise.
start() { # <name> [--host] <command...>
    local name=$1; shift
    local prefix=(nsenter "--net=/run/netns/$NETNS")
    if [[ $1 == --host ]]; then prefix=(); shift; fi
    setsid "${prefix[@]}" "$@" >"$S/logs/$name.log" 2>&1 < /dev/null &
    echo $! > "$S/pids/$name"
}

wait_for() { # <what> <seconds> <command...>
    local what=$1 secs=$2; shift 2
    for _ in $(seq $((secs * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
    log "timed out after ${secs}s waiting for $what; last log lines:"
    tail -n 20 "$S"/logs/*.log >&2 || true
    return 1
}

pki() {
    local d=$S/pki; mkdir -p "$d"; cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=dockyard-e2e-ca" 2>/dev/null
    cert() { # <name> <subject> [<subjectAltName>]
        openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
        local ext=(); [[ -n ${3:-} ]] && { printf 'subjectAltName=%s\n' "$3" > "$1.ext"; ext=(-extfile "$1.ext"); }
        openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 2 "${ext[@]}" 2>/dev/null
    }
    cert apiserver "/CN=kube-apiserver" \
        "IP:127.0.0.1,IP:$NODE_IP,IP:${SERVICE_CIDR%.0/24}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    cert admin "/O=system:masters/CN=dockyard-e2e-admin"
    cert controller-manager "/CN=system:kube-controller-manager"
    cert scheduler "/CN=system:kube-scheduler"
    cert kubelet "/O=system:nodes/CN=system:node:$NODE"
    cert kube-proxy "/CN=system:kube-proxy"
    openssl genrsa -out sa.key 2048 2>/dev/null && openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    cd - >/dev/null
}

kubeconfig() { # <file> <server> <cert name>
    local d=$S/pki
    cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dockyard-e2e
  cluster:
    server: $2
    certificate-authority-data: $(base64 -w0 < "$d/ca.crt")
users:
- name: $3
  user:
    client-certificate-data: $(base64 -w0 < "$d/$3.crt")
    client-key-data: $(base64 -w0 < "$d/$3.key")
contexts:
- name: dockyard-e2e
  context: { cluster: dockyard-e2e, user: $3 }
current-context: dockyard-e2e
EOF
}

configs() {
    local c=$S/config; mkdir -p "$c" "$S/cni" "$S/containerd/certs.d/127.0.0.1:$REGISTRY_PORT"
    local inner=https://127.0.0.1:6443
    for who in controller-manager scheduler kubelet kube-proxy; do kubeconfig "$c/$who.kubeconfig" "$inner" "$who"; done
    kubeconfig "$S/kubeconfig" "https://127.0.0.1:$API_PORT" admin

    cat > "$S/cni/10-bridge.conflist" <<EOF
{ "cniVersion": "0.4.0", "name": "dockyard-e2e", "plugins": [
  { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": { "type": "host-local", "dataDir": "$S/cni/ipam", "ranges": [[{ "subnet": "$POD_CIDR" }]],
              "routes": [{ "dst": "0.0.0.0/0" }] } },
  { "type": "portmap", "capabilities": { "portMappings": true } } ] }
EOF
    cat > "$S/containerd/certs.d/127.0.0.1:$REGISTRY_PORT/hosts.toml" <<EOF
server = "http://127.0.0.1:$REGISTRY_PORT"
[host."http://127.0.0.1:$REGISTRY_PORT"]
  capabilities = ["pull", "resolve"]
EOF
    cat > "$c/containerd.toml" <<EOF
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$S/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "dockyard.local/pause:1"
  # No CAP_SYS_RESOURCE here: runc cannot lower oom_score_adj below its own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$S/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$S/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$S/containerd/certs.d"
EOF
    cat > "$c/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The host is cgroup v1, which 1.37 refuses unless told otherwise; pods' cgroups live under one
# root of our own, so stopping the cluster can remove exactly them.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
address: $NODE_IP
readOnlyPort: 0
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $S/pki/ca.crt }
authorization: { mode: Webhook }
clusterDomain: cluster.local
podLogsDir: $S/pod-logs
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
EOF
    cat > "$c/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $c/kube-proxy.kubeconfig }
hostnameOverride: $NODE
bindAddress: $NODE_IP
clusterCIDR: $POD_CIDR
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Zero leaves the host-wide conntrack sysctls alone.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
    cat > "$c/registry.yml" <<EOF
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $S/registry }
  delete: { enabled: true }
http: { addr: "127.0.0.1:$REGISTRY_PORT" }
auth:
  htpasswd: { realm: dockyard-e2e, path: $c/htpasswd }
EOF
    htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" > "$c/htpasswd"
}

# The sandbox ("pause") image: nothing can be pulled, so a static binary of our own in a scratch
# image is imported into containerd's Kubernetes namespace.
pause_image() {
    local d=$S/pause; mkdir -p "$d"
    (cd "$here/../test/e2e/tools" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$d/pause" ./cmd/pause)
    printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' > "$d/Dockerfile"
    local docker=/usr/bin/docker; [[ -x $docker ]] || docker=docker
    DOCKER_BUILDKIT=1 "$docker" build -q -t dockyard.local/pause:1 "$d" >/dev/null
    "$docker" save dockyard.local/pause:1 > "$d/pause.tar"
    "$docker" rmi dockyard.local/pause:1 >/dev/null
    ctr --address "$S/containerd/containerd.sock" -n k8s.io images import "$d/pause.tar" >/dev/null
}

# The kubelet puts every pod under one cgroup root of ours, which must exist in each v1 hierarchy.
make_cgroups() {
    local h
    for h in /sys/fs/cgroup/*/; do
        [[ -e $h/cgroup.procs ]] || continue
        mkdir -p "$h$CGROUP_ROOT"
        # A new cpuset has no CPUs or memory nodes until given its parent's.
        if [[ -e $h/cpuset.cpus ]]; then
            cat "$h/cpuset.cpus" > "$h$CGROUP_ROOT/cpuset.cpus"
            cat "$h/cpuset.mems" > "$h$CGROUP_ROOT/cpuset.mems"
        fi
    done
}

in_netns() { nsenter "--net=/run/netns/$NETNS" "$@"; }
kubectl_() { "$BIN/kubectl" --kubeconfig "$S/kubeconfig" "$@"; }

up() {
    mkdir -p "$S/pids" "$S/logs"
    echo "$OWNER_PID" > "$S/owner.pid"
    # Record what exists before anything can change it: `down` restores exactly this.
    for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done > "$S/sysctls"
    for p in "${HOST_PATHS[@]}"; do [[ -e $p ]] || echo "$p"; done > "$S/absent-paths"
    ls /run/netns 2>/dev/null > "$S/netns-before" || true

    BIN=$("$here/engines/kubernetes.sh")
    NETNS="dockyard-e2e-$$"
    API_PORT=$(free_port); REGISTRY_PORT=$(free_port)
    REGISTRY_USER=dockyard-e2e
    REGISTRY_PASSWORD=$(openssl rand -hex 16)
    echo "$NETNS" > "$S/netns"

    ip netns add "$NETNS"
    in_netns ip link set lo up
    in_netns ip link add node0 type bridge
    in_netns ip addr add "$NODE_IP/24" dev node0
    in_netns ip link set node0 up
    in_netns ip route add default dev node0

    pki
    configs

    start registry docker-registry serve "$S/config/registry.yml"
    # Each accepted connection is carried into the namespace by a socat started there.
    for fwd in "$API_PORT:6443" "$REGISTRY_PORT:$REGISTRY_PORT"; do
        start "forward-${fwd%%:*}" --host socat "TCP-LISTEN:${fwd%%:*},bind=127.0.0.1,reuseaddr,fork" \
            "EXEC:nsenter --net=/run/netns/$NETNS socat STDIO TCP\\:127.0.0.1\\:${fwd##*:}"
    done

    start etcd etcd --name dockyard-e2e --data-dir "$S/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380
    local p=$S/pki c=$S/config
    start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
        --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$NODE_IP" \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
        --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" --kubelet-client-key="$p/apiserver-kubelet-client.key" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
        --kubelet-preferred-address-types=InternalIP \
        --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --profiling=false
    wait_for "the API server" 60 in_netns "$BIN/kubectl" --kubeconfig "$c/kube-proxy.kubeconfig" get --raw /readyz
    start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$c/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$c/controller-manager.kubeconfig" --authorization-kubeconfig="$c/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials \
        --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" --profiling=false
    start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$c/scheduler.kubeconfig" \
        --authentication-kubeconfig="$c/scheduler.kubeconfig" --authorization-kubeconfig="$c/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --profiling=false

    make_cgroups
    start containerd containerd --config "$c/containerd.toml"
    wait_for containerd 30 ctr --address "$S/containerd/containerd.sock" version
    pause_image
    start kubelet "$BIN/kubelet" --config="$c/kubelet.yaml" --kubeconfig="$c/kubelet.kubeconfig" \
        --container-runtime-endpoint="unix://$S/containerd/containerd.sock" --root-dir="$S/kubelet" \
        --node-ip="$NODE_IP" --hostname-override="$NODE"
    start kube-proxy "$BIN/kube-proxy" --config="$c/kube-proxy.yaml"

    wait_for "the API server on 127.0.0.1:$API_PORT" 30 kubectl_ get --raw /readyz
    wait_for "node $NODE to be Ready" 90 kubectl_ wait --for=condition=Ready "node/$NODE" --timeout=1s
    wait_for "the default ServiceAccount" 60 kubectl_ get serviceaccount default -n default
    wait_for "the registry" 30 curl -fsS -u "$REGISTRY_USER:$REGISTRY_PASSWORD" "http://127.0.0.1:$REGISTRY_PORT/v2/"

    cat > "$S/cluster.json" <<EOF
{
  "kubeconfig": "$S/kubeconfig",
  "kubectl": "$BIN/kubectl",
  "containerd": "$S/containerd/containerd.sock",
  "version": "$("$BIN/kubectl" version --client -o json | sed -n 's/.*"gitVersion": "\(.*\)",/\1/p' | head -n1)",
  "registry": { "server": "127.0.0.1:$REGISTRY_PORT", "username": "$REGISTRY_USER", "password": "$REGISTRY_PASSWORD" }
}
EOF
    log "up: API https://127.0.0.1:$API_PORT, registry 127.0.0.1:$REGISTRY_PORT, namespace $NETNS"
}

# Every PID `down` signals: it returns only once each has exited. (An exited process may linger as a
# zombie until its parent, often init, collects it; that holds nothing and is init's to reap.)
KILLED=()

running() { [[ -e /proc/$1 ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

kill_pid_file() { # <pid file> — TERM, a grace period, then KILL
    local pid; pid=$(cat "$1" 2>/dev/null) || return 0
    KILLED+=("$pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$1"
}

# Every process left in the pods' cgroups (containers, shims' children): killed outright.
kill_cgroup_procs() {
    local h
    for h in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
        [[ -d $h ]] || continue
        local pids
        mapfile -t pids < <(find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null)
        ((${#pids[@]})) || continue
        KILLED+=("${pids[@]}")
        kill -KILL "${pids[@]}" 2>/dev/null || true
    done
}

remove_cgroups() {
    local h
    for h in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
        [[ -d $h ]] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
}

down() {
    [[ -d $S ]] || return 0
    # It removes the state dir at the end: never anything but one of ours.
    [[ ${S##*/} == dockyard-e2e-* ]] || { log "refusing to treat $S as a cluster state dir"; return 1; }
    set +e
    # Node first, so nothing restarts what is being stopped; then what runs the pods.
    for name in kubelet kube-proxy; do kill_pid_file "$S/pids/$name"; done
    kill_cgroup_procs
    local shims
    mapfile -t shims < <(pgrep -f "containerd-shim-runc-v2 .*-address $S/containerd/containerd.sock")
    if ((${#shims[@]})); then KILLED+=("${shims[@]}"); kill -KILL "${shims[@]}" 2>/dev/null; fi
    for f in "$S"/pids/*; do [[ -e $f ]] && kill_pid_file "$f"; done
    kill_cgroup_procs

    # Mounts under the state dir (pod volumes, rootfs, shm) and the sandboxes' network namespaces.
    local netns_new=() ns
    if [[ -f $S/netns-before ]]; then
        for ns in /run/netns/*; do
            [[ -e $ns ]] && ! grep -qxF "${ns##*/}" "$S/netns-before" && netns_new+=("${ns##*/}")
        done
    fi
    awk -v s="$S" '$5 == s || index($5, s "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    for ns in "${netns_new[@]}"; do ip netns delete "$ns" 2>/dev/null || { umount "/run/netns/$ns"; rm -f "/run/netns/$ns"; }; done
    [[ -f $S/netns ]] && ip netns delete "$(cat "$S/netns")" 2>/dev/null

    local pid
    for pid in "${KILLED[@]}"; do
        for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
        running "$pid" && log "process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) still runs after 10 s"
    done
    remove_cgroups
    if [[ -f $S/sysctls ]]; then
        while IFS='=' read -r key value; do sysctl -qw "$key=$value"; done < "$S/sysctls"
    fi
    if [[ -f $S/absent-paths ]]; then
        while read -r p; do
            [[ -n $p ]] || continue
            grep -q " $p " /proc/self/mountinfo && umount -l "$p"
            rm -rf "$p"
        done < "$S/absent-paths"
    fi
    rm -rf "$S"
    set -e
}

sweep() {
    local d
    for d in "${TMPDIR:-/tmp}"/dockyard-e2e-*; do
        [[ -f $d/owner.pid ]] || continue
        kill -0 "$(cat "$d/owner.pid")" 2>/dev/null && continue
        log "cleaning up after a run that died: $d"
        S=$d down
    done
}

# A cluster of another run that is still alive: two would claim the same node address, cgroup root and
# host sysctls, and each one's `down` would break the other's run and restore the wrong values.
live_cluster() {
    local d
    for d in "${TMPDIR:-/tmp}"/dockyard-e2e-*; do
        [[ $d != "$S" && -f $d/owner.pid ]] && kill -0 "$(cat "$d/owner.pid")" 2>/dev/null && { echo "$d"; return 0; }
    done
    return 1
}

cmd=${1:?usage: e2e-cluster.sh up|down <state-dir> | sweep}
case $cmd in
    up)
        S=${2:?state dir}; OWNER_PID=${OWNER_PID:-$PPID}
        sweep
        if other=$(live_cluster); then
            log "another run's cluster is up ($other, owner pid $(cat "$other/owner.pid")): one per machine; wait for it to finish"
            exit 1
        fi
        # A failed start leaves nothing behind.
        trap 'status=$?; if ((status)); then log "start failed; stopping what started"; down; fi' EXIT
        up
        trap - EXIT
        ;;
    down) S=${2:?state dir}; down ;;
    sweep) sweep ;;
    *) echo "usage: e2e-cluster.sh up|down <state-dir> | sweep" >&2; exit 2 ;;
esac
