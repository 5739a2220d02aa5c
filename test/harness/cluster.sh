#!/usr/bin/env bash
# A real two-node Kubernetes cluster for the end-to-end suite, and a registry with a password.
#
#   e2e-cluster.sh up <state-dir>                 start everything; writes <state-dir>/cluster.json
#   e2e-cluster.sh down <state-dir>               stop everything and put the host back (idempotent)
#   e2e-cluster.sh node-stop <state-dir> <node>   kill a node outright: kubelet, kube-proxy, containerd, its pods
#   e2e-cluster.sh node-start <state-dir> <node>  start a stopped node again
#   e2e-cluster.sh registry-password <state-dir> <password>   give the registry a new password (the old stops working)
#   e2e-cluster.sh firewall-start|firewall-stop <state-dir>   start kube-router's NetworkPolicy enforcer on every node,
#                                                 or stop it and remove its rules
#   e2e-cluster.sh cert-manager-start|cert-manager-stop <state-dir>   start cert-manager's controller, or stop it
#   e2e-cluster.sh ingress-start <state-dir> <class> <namespace>   start Skipper, the ingress proxy, for the Ingresses
#                                                 of that class there; prints where it listens
#   e2e-cluster.sh ingress-stop <state-dir> <namespace>   stop it and remove its identity
#   e2e-cluster.sh sweep                          `down` every state dir whose owner process is gone
#
# Each node is a network namespace made here with its own containerd, kubelet and kube-proxy (and, while a
# test asks for it, kube-router's firewall), a pod CIDR of its own and routes to the other's. The first also
# holds etcd, the control plane and the registry (and, while a test asks for them, cert-manager's controller
# and Skipper); the second is joined to it by a veth pair on the first one's bridge. socat forwards two loopback ports of the host into the first (the API server, the registry),
# so the engine and the Docker engine reach them as 127.0.0.1:<port>; a socat in the second namespace gives
# its node the registry under the same name. What the kubelets change on the host (three sysctls, a few
# directories, cgroups) is recorded before they start and restored by `down`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# Per node (same index): name, address on the nodes' network, pod CIDR, cgroup root.
NODES=(dockyard-node-a dockyard-node-b)
NODE_IPS=(10.217.0.2 10.217.0.3)
POD_CIDRS=(10.218.0.0/24 10.218.1.0/24)
CGROUP_ROOTS=(dockyard-e2e dockyard-e2e-b)
NODES_CIDR=10.217.0.0/24
CLUSTER_CIDR=10.218.0.0/16
API_IP=${NODE_IPS[0]}
SERVICE_CIDR=10.219.0.0/24
# How fast a node that stopped answering is noticed: a real cluster's controller-manager waits 50 s
# (checking every 5 s); the suite kills a node on purpose and would wait as long for nothing.
NODE_MONITOR=(--node-monitor-grace-period=16s --node-monitor-period=2s)
# How fast the autoscaler reacts: every 15 s, and scale-in only after 5 minutes of lower load, on a
# real cluster; the suite looks every 5 s and scales in after 15 s, and metrics-server scrapes every 10 s.
AUTOSCALER=(--horizontal-pod-autoscaler-sync-period=5s --horizontal-pod-autoscaler-downscale-stabilization=15s)
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)
# Host paths the kubelet, containerd or the CNI plugins create when they are missing.
# (/var/run is a link to /run: each path is named once, as it really is.)
HOST_PATHS=(/var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/containerd /run/netns /etc/cni /opt/cni)

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
# handler runs `down`), inside the first node's network namespace unless told otherwise.
start() { # <name> [--host | --netns <ns>] <command...>
    local name=$1; shift
    local prefix=(nsenter "--net=/run/netns/$NETNS")
    if [[ $1 == --host ]]; then prefix=(); shift; fi
    if [[ $1 == --netns ]]; then prefix=(nsenter "--net=/run/netns/$2"); shift 2; fi
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
        "IP:127.0.0.1,IP:$API_IP,IP:${SERVICE_CIDR%.0/24}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    cert admin "/O=system:masters/CN=dockyard-e2e-admin"
    cert controller-manager "/CN=system:kube-controller-manager"
    cert scheduler "/CN=system:kube-scheduler"
    # The Node authorizer lets each kubelet touch only its own node and pods: one identity per node.
    local node; for node in "${NODES[@]}"; do cert "kubelet-$node" "/O=system:nodes/CN=system:node:$node"; done
    cert kube-proxy "/CN=system:kube-proxy"
    # The API server's identity towards aggregated APIs (metrics-server), which trust the names in its headers.
    cert front-proxy-client "/CN=front-proxy-client"
    cert prometheus "/CN=dockyard-e2e-prometheus"
    cert kube-router "/CN=dockyard-e2e-kube-router"
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
    local c=$S/config; mkdir -p "$c"
    kubeconfig "$S/kubeconfig" "https://127.0.0.1:$API_PORT" admin
    local inner=https://127.0.0.1:6443
    for who in controller-manager scheduler; do kubeconfig "$c/$who.kubeconfig" "$inner" "$who"; done
    # metrics-server reads every node and pod: the harness runs it as the cluster admin instead of
    # installing the RBAC its own manifests carry (on a real cluster it is the cluster's add-on).
    kubeconfig "$c/metrics-server.kubeconfig" "$inner" admin
    kubeconfig "$c/prometheus.kubeconfig" "$inner" prometheus
    # Read from every node's namespace: the API server on the first node's address.
    kubeconfig "$c/kube-router.kubeconfig" "https://$API_IP:6443" kube-router
    cat > "$c/registry.yml" <<EOF
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $S/registry }
  delete: { enabled: true }
# Inside the first node's namespace only: the host reaches it through socat on loopback, the second
# node through its own socat.
http: { addr: "0.0.0.0:$REGISTRY_PORT" }
auth:
  htpasswd: { realm: dockyard-e2e, path: $c/htpasswd }
EOF
    htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" > "$c/htpasswd"
}

# Everything one node reads: its CNI network, containerd, kubelet and kube-proxy configs.
node_configs() { # <index>
    local i=$1 name=${NODES[$1]} ip=${NODE_IPS[$1]}
    local n=$S/nodes/$name
    mkdir -p "$n/cni" "$n/containerd/certs.d/127.0.0.1:$REGISTRY_PORT"
    # Each node's components reach the API server on the first node's address.
    kubeconfig "$n/kubelet.kubeconfig" "https://$API_IP:6443" "kubelet-$name"
    kubeconfig "$n/kube-proxy.kubeconfig" "https://$API_IP:6443" kube-proxy
    cat > "$n/cni/10-bridge.conflist" <<EOF
{ "cniVersion": "0.4.0", "name": "$name", "plugins": [
  { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": { "type": "host-local", "dataDir": "$n/cni/ipam", "ranges": [[{ "subnet": "${POD_CIDRS[$i]}" }]],
              "routes": [{ "dst": "0.0.0.0/0" }] } },
  { "type": "portmap", "capabilities": { "portMappings": true } } ] }
EOF
    cat > "$n/containerd/certs.d/127.0.0.1:$REGISTRY_PORT/hosts.toml" <<EOF
server = "http://127.0.0.1:$REGISTRY_PORT"
[host."http://127.0.0.1:$REGISTRY_PORT"]
  capabilities = ["pull", "resolve"]
EOF
    cat > "$n/containerd.toml" <<EOF
version = 2
root = "$n/containerd/root"
state = "$n/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$n/containerd/containerd.sock"
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
        Root = "$n/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$n/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$n/containerd/certs.d"
EOF
    cat > "$n/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The host is cgroup v1, which 1.37 refuses unless told otherwise; pods' cgroups live under a root of
# the node's own, so stopping a node or the cluster can remove exactly them.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${CGROUP_ROOTS[$i]}
address: $ip
readOnlyPort: 0
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $S/pki/ca.crt }
authorization: { mode: Webhook }
clusterDomain: cluster.local
podLogsDir: $n/pod-logs
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
EOF
    cat > "$n/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $n/kube-proxy.kubeconfig }
hostnameOverride: $name
bindAddress: $ip
clusterCIDR: $CLUSTER_CIDR
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Zero leaves the host-wide conntrack sysctls alone.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
}

# The sandbox ("pause") image: nothing can be pulled, so a static binary of our own in a scratch
# image, saved once and imported into each node's containerd.
pause_image() {
    local d=$S/pause; mkdir -p "$d"
    (cd "$here/../e2e/tools" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$d/pause" ./cmd/pause)
    printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' > "$d/Dockerfile"
    local docker=/usr/bin/docker; [[ -x $docker ]] || docker=docker
    DOCKER_BUILDKIT=1 "$docker" build -q -t dockyard.local/pause:1 "$d" >/dev/null
    "$docker" save dockyard.local/pause:1 > "$d/pause.tar"
    "$docker" rmi dockyard.local/pause:1 >/dev/null
}

# The kubelet puts every pod under one cgroup root of its node's, which must exist in each v1 hierarchy.
make_cgroups() { # <cgroup root>
    local h
    for h in /sys/fs/cgroup/*/; do
        [[ -e $h/cgroup.procs ]] || continue
        mkdir -p "$h$1"
        # A new cpuset has no CPUs or memory nodes until given its parent's.
        if [[ -e $h/cpuset.cpus ]]; then
            cat "$h/cpuset.cpus" > "$h$1/cpuset.cpus"
            cat "$h/cpuset.mems" > "$h$1/cpuset.mems"
        fi
    done
}

in_netns() { nsenter "--net=/run/netns/$NETNS" "$@"; }
kubectl_() { "$BIN/kubectl" --kubeconfig "$S/kubeconfig" "$@"; }
node_netns() { (($1 == 0)) && echo "$NETNS" || echo "$NETNS-${NODES[$1]##*-}"; }
node_index() { # <name>
    local i; for i in "${!NODES[@]}"; do [[ ${NODES[$i]} == "$1" ]] && { echo "$i"; return 0; }; done
    log "no node named $1 (nodes: ${NODES[*]})"; return 1
}

# The second node's network namespace: a veth pair joins it to the first one's bridge, and each
# routes the other's pod CIDR through the other's node address.
node_network() { # <index>
    local i=$1 ns; ns=$(node_netns "$1")
    local peer=veth-${NODES[$i]##*-}
    ip netns add "$ns"
    ip link add "$peer" type veth peer name eth0 netns "$ns"
    ip link set "$peer" netns "$NETNS"
    in_netns ip link set "$peer" master node0 up
    nsenter "--net=/run/netns/$ns" sh -c "ip link set lo up && ip addr add ${NODE_IPS[$i]}/24 dev eth0 && ip link set eth0 up &&
        ip route add default dev eth0 && ip route add ${POD_CIDRS[0]} via ${NODE_IPS[0]}"
    in_netns ip route add "${POD_CIDRS[$i]}" via "${NODE_IPS[$i]}"
}

# Starts one node's containerd, kubelet and kube-proxy (and, off the first node, its registry forward).
node_start() { # <index>
    local i=$1 name=${NODES[$1]} ns n=$S/nodes/${NODES[$1]}
    ns=$(node_netns "$i")
    make_cgroups "${CGROUP_ROOTS[$i]}"
    start "containerd-$name" --netns "$ns" containerd --config "$n/containerd.toml"
    wait_for "containerd of $name" 30 ctr --address "$n/containerd/containerd.sock" version
    ctr --address "$n/containerd/containerd.sock" -n k8s.io images import "$S/pause/pause.tar" >/dev/null
    if ((i > 0)); then
        start "registry-forward-$name" --netns "$ns" socat "TCP-LISTEN:$REGISTRY_PORT,bind=127.0.0.1,reuseaddr,fork" "TCP:$API_IP:$REGISTRY_PORT"
    fi
    start "kubelet-$name" --netns "$ns" "$BIN/kubelet" --config="$n/kubelet.yaml" --kubeconfig="$n/kubelet.kubeconfig" \
        --container-runtime-endpoint="unix://$n/containerd/containerd.sock" --root-dir="$n/kubelet" \
        --node-ip="${NODE_IPS[$i]}" --hostname-override="$name"
    start "kube-proxy-$name" --netns "$ns" "$BIN/kube-proxy" --config="$n/kube-proxy.yaml"
}

# A node lost at once, as a machine that dies: no drain, no graceful stop, its pods' processes gone.
node_kill() { # <index>
    local i=$1 name=${NODES[$1]} f
    for f in kubelet kube-proxy kube-router registry-forward containerd; do kill_pid_file "$S/pids/$f-$name" KILL; done
    kill_shims "$S/nodes/$name/containerd/containerd.sock"
    kill_cgroup_procs "${CGROUP_ROOTS[$i]}"
}

# The NetworkPolicy enforcer on one node: kube-router's firewall (engines/kube-router.sh) in the node's
# namespace, keeping that node's pods behind iptables rules and ipsets it syncs from the policies. It looks its
# node up by name when it starts, so it starts once the node is registered. Healthy once its first sync is done.
# Started only while a test asks for it: with it running, rollouts under the suite's load lost a few connections
# to timeouts (docs/testing.md), which the zero-failure steps would count.
firewall_start() { # <index>
    local i=$1 name=${NODES[$1]} ns; ns=$(node_netns "$1")
    local bin; bin=$("$here/engines/kube-router.sh")
    start "kube-router-$name" --netns "$ns" "$bin/kube-router" --kubeconfig="$S/config/kube-router.kubeconfig" \
        --hostname-override="$name" --run-firewall --run-router=false --run-service-proxy=false --enable-cni=false \
        --health-port=20244 --metrics-port=0
    wait_for "kube-router on $name" 60 nsenter "--net=/run/netns/$ns" curl -fsS http://127.0.0.1:20244/healthz
}

# Stops kube-router on one node and removes what it leaves: the jumps to its chains, its chains, its ipsets.
firewall_stop() { # <index>
    local ns; ns=$(node_netns "$1")
    kill_pid_file "$S/pids/kube-router-${NODES[$1]}"
    # shellcheck disable=SC2016 # a script run inside the node's namespace, with variables of its own
    nsenter "--net=/run/netns/$ns" bash -c '
        set -euo pipefail
        iptables-save -t filter | sed -n "s/^-A \(INPUT\|FORWARD\|OUTPUT\) \(.*-j KUBE-ROUTER-.*\)/-D \1 \2/p" |
            while read -r rule; do eval "iptables $rule"; done
        chains=$(iptables-save -t filter | sed -n "s/^:\(KUBE-ROUTER-[^ ]*\|KUBE-POD-FW-[^ ]*\|KUBE-NWPLCY-[^ ]*\) .*/\1/p")
        for c in $chains; do iptables -F "$c"; done
        for c in $chains; do iptables -X "$c"; done
        ipset list -n | { grep "^KUBE-" || true; } | while read -r set; do ipset destroy "$set"; done'
}

# What kube-router reads: the policies and every pod and namespace they select.
firewall_rbac() {
    kubectl_ apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: dockyard-e2e-kube-router }
rules:
  - { apiGroups: [""], resources: [namespaces, pods, services, endpoints, nodes], verbs: [get, list, watch] }
  - { apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [get, list, watch] }
  - { apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: dockyard-e2e-kube-router }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: dockyard-e2e-kube-router }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: dockyard-e2e-kube-router }]
EOF
}

# What a platform team installs for the way in, each started only while the W steps ask for it.
#
# cert-manager's controller (engines/cert-manager.sh) in the first node's namespace, issuing for every namespace
# and keeping its ClusterIssuers' Secrets in the namespace cert-manager; it runs as the cluster admin instead of
# with the RBAC its own manifests carry, as metrics-server does here.
cert_manager_start() {
    local bin; bin=$("$here/engines/cert-manager.sh")
    kubectl_ create namespace cert-manager >/dev/null
    start cert-manager "$bin/cert-manager-controller" --kubeconfig="$S/config/metrics-server.kubeconfig" \
        --leader-elect=false --cluster-resource-namespace=cert-manager --metrics-listen-address=127.0.0.1:9402
    wait_for "cert-manager's controller" 60 in_netns curl -fsS http://127.0.0.1:9402/metrics
}

cert_manager_stop() {
    kill_pid_file "$S/pids/cert-manager"
    kubectl_ delete --ignore-not-found namespace cert-manager >/dev/null
}

# Skipper (engines/skipper.sh), the ingress proxy, in the first node's namespace on port 443, as a cluster's edge
# would run it: it serves the Ingresses of one class in one namespace, terminates TLS with their Secrets and
# proxies to the pods' addresses over the nodes' network. It reads the API as a ServiceAccount that may read only
# that namespace's Ingresses, Services, EndpointSlices and Secrets, and trusts the cluster's CA (Go reads
# SSL_CERT_FILE). Prints {"address", "port"}: where the nodes reach it, and the host's loopback port that socat
# carries to it.
ingress_start() { # <class> <namespace>
    local class=$1 namespace=$2 bin port
    bin=$("$here/engines/skipper.sh")
    kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: { name: dockyard-e2e-skipper, namespace: kube-system }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: dockyard-e2e-skipper, namespace: $namespace }
rules:
  - { apiGroups: [""], resources: [services, secrets], verbs: [get, list] }
  - { apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [get, list] }
  - { apiGroups: [networking.k8s.io], resources: [ingresses], verbs: [get, list] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: dockyard-e2e-skipper, namespace: $namespace }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: dockyard-e2e-skipper }
subjects: [{ kind: ServiceAccount, name: dockyard-e2e-skipper, namespace: kube-system }]
EOF
    kubectl_ create token dockyard-e2e-skipper -n kube-system --duration=12h > "$S/config/skipper.token"
    # Routes are polled every second (3 s by default), within a terminating pod's preStop sleep; it stops at once
    # on SIGTERM (no load balancer in front waits for its health check to fail).
    start skipper env SSL_CERT_FILE="$S/pki/ca.crt" "$bin/skipper" -address=:443 -support-listener=127.0.0.1:9911 \
        -kubernetes -kubernetes-url="https://$API_IP:6443" -kubernetes-token-file="$S/config/skipper.token" \
        -kubernetes-namespace="$namespace" -kubernetes-ingress-class="^$class\$" -kubernetes-enable-tls \
        -enable-kubernetes-endpointslices -source-poll-timeout=1000 -wait-first-route-load \
        -wait-for-healthcheck-interval=0 -access-log-disabled -application-log-level=WARN
    wait_for "skipper" 60 in_netns bash -c '</dev/tcp/127.0.0.1/443'
    port=$(free_port)
    start ingress-forward --host socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
        "EXEC:nsenter --net=/run/netns/$NETNS socat STDIO TCP\\:127.0.0.1\\:443"
    wait_for "the ingress forward" 10 bash -c "</dev/tcp/127.0.0.1/$port"
    echo "{ \"address\": \"$API_IP\", \"port\": $port }"
}

ingress_stop() { # <namespace>
    kill_pid_file "$S/pids/ingress-forward"
    kill_pid_file "$S/pids/skipper"
    kubectl_ delete --ignore-not-found -n "$1" role/dockyard-e2e-skipper rolebinding/dockyard-e2e-skipper >/dev/null
    kubectl_ delete --ignore-not-found -n kube-system serviceaccount/dockyard-e2e-skipper >/dev/null
    rm -f "$S/config/skipper.token"
}

# Registers <group>/<version> with the API server's aggregator, served on <port> in this namespace: a
# selector-less Service whose one endpoint is the first node's address, and the APIService pointing at it.
aggregated_api() { # <service name> <port> <group> <version>
    kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: { name: $1, namespace: kube-system }
spec: { ports: [{ name: https, port: 443, targetPort: $2, protocol: TCP }] }
---
apiVersion: v1
kind: Endpoints
metadata: { name: $1, namespace: kube-system }
subsets: [{ addresses: [{ ip: "$API_IP" }], ports: [{ name: https, port: $2, protocol: TCP }] }]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: $4.$3 }
spec:
  service: { name: $1, namespace: kube-system, port: 443 }
  group: $3
  version: $4
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF
}

# metrics-server beside the control plane, reached by the API server's aggregator as metrics.k8s.io.
metrics_server() {
    local c=$S/config
    start metrics-server "$BIN/metrics-server" --secure-port=4443 --cert-dir="$S/metrics-server" \
        --kubeconfig="$c/metrics-server.kubeconfig" --authentication-kubeconfig="$c/metrics-server.kubeconfig" \
        --authorization-kubeconfig="$c/metrics-server.kubeconfig" \
        --kubelet-insecure-tls --kubelet-preferred-address-types=InternalIP --metric-resolution=10s --kubelet-request-timeout=5s
    aggregated_api metrics-server 4443 metrics.k8s.io v1beta1
}

# Prometheus (engines/prometheus.sh) in the first node's namespace, as a cluster's own would run: it finds
# pods through Kubernetes service discovery, keeps those the conventional prometheus.io/* annotations ask to
# be scraped, and scrapes them over the nodes' network every second. Its API reaches the host through socat.
prometheus() {
    local bin; bin=$("$here/engines/prometheus.sh")
    local c=$S/config
    kubectl_ apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: dockyard-e2e-prometheus }
rules: [{ apiGroups: [""], resources: [pods], verbs: [get, list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: dockyard-e2e-prometheus }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: dockyard-e2e-prometheus }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: dockyard-e2e-prometheus }]
EOF
    cat > "$c/prometheus.yml" <<EOF
global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs: [{ role: pod, kubeconfig_file: $c/prometheus.kubeconfig }]
    relabel_configs:
      - { source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], regex: "true", action: keep }
      - { source_labels: [__meta_kubernetes_pod_phase], regex: Running, action: keep }
      - { source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path], regex: "(.+)", target_label: __metrics_path__ }
      # One target per pod: every container port's target gets the same address, and equal targets are one.
      - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: '([^:]+)(?::\d+)?;(\d+)'
        replacement: '\$1:\$2'
        target_label: __address__
      - { source_labels: [__meta_kubernetes_namespace], target_label: namespace }
      - { source_labels: [__meta_kubernetes_pod_name], target_label: pod }
      - { source_labels: [__meta_kubernetes_pod_node_name], target_label: node }
EOF
    start prometheus "$bin/prometheus" --config.file="$c/prometheus.yml" --storage.tsdb.path="$S/prometheus" \
        --web.listen-address=127.0.0.1:9090
    start "forward-$PROMETHEUS_PORT" --host socat "TCP-LISTEN:$PROMETHEUS_PORT,bind=127.0.0.1,reuseaddr,fork" \
        "EXEC:nsenter --net=/run/netns/$NETNS socat STDIO TCP\\:127.0.0.1\\:9090"
}

# The custom metrics API beside it, served by the suite's stand-in for prometheus-adapter
# (kubernetes/metrics-adapter/): each pod's http_requests_total, as a rate over 20 s of 1 s scrapes, is the pod metric
# http_requests_per_second that an autoscaler with `requestsPerSecond` reads. Reached like metrics-server.
metrics_adapter() {
    local bin; bin=$("$here/engines/metrics-adapter.sh")
    local c=$S/config
    start metrics-adapter "$bin/metrics-adapter" --secure-port=4444 --cert-dir="$S/metrics-adapter" \
        --lister-kubeconfig="$c/metrics-server.kubeconfig" --authentication-kubeconfig="$c/metrics-server.kubeconfig" \
        --authorization-kubeconfig="$c/metrics-server.kubeconfig" \
        --prometheus-url=http://127.0.0.1:9090 --counter=http_requests_total --rate-window=20s
    aggregated_api custom-metrics-adapter 4444 custom.metrics.k8s.io v1beta2
}

# True once the metrics API reports every node.
node_metrics() {
    local listed; listed=$(kubectl_ get --raw /apis/metrics.k8s.io/v1beta1/nodes) || return 1
    local node; for node in "${NODES[@]}"; do [[ $listed == *"\"$node\""* ]] || return 1; done
}

up() {
    mkdir -p "$S/pids" "$S/logs"
    echo "$OWNER_PID" > "$S/owner.pid"
    # Record what exists before anything can change it: `down` restores exactly this.
    for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done > "$S/sysctls"
    for p in "${HOST_PATHS[@]}"; do [[ -e $p ]] || echo "$p"; done > "$S/absent-paths"
    ls /run/netns 2>/dev/null > "$S/netns-before" || true

    BIN=$("$here/engines/kubernetes.sh")
    NETNS="dockyard-e2e-$$"
    API_PORT=$(free_port); REGISTRY_PORT=$(free_port); PROMETHEUS_PORT=$(free_port)
    REGISTRY_USER=dockyard-e2e
    REGISTRY_PASSWORD=$(openssl rand -hex 16)
    echo "$NETNS" > "$S/netns"
    # What node-stop and node-start need to find the cluster again.
    declare -p BIN NETNS API_PORT REGISTRY_PORT > "$S/env"

    ip netns add "$NETNS"
    in_netns ip link set lo up
    in_netns ip link add node0 type bridge
    in_netns ip addr add "$API_IP/24" dev node0
    in_netns ip link set node0 up
    in_netns ip route add default dev node0
    local i
    for ((i = 1; i < ${#NODES[@]}; i++)); do node_network "$i"; done

    pki
    configs
    for i in "${!NODES[@]}"; do node_configs "$i"; done

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
        --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$API_IP" \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
        --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" --kubelet-client-key="$p/apiserver-kubelet-client.key" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
        --kubelet-preferred-address-types=InternalIP \
        --requestheader-client-ca-file="$p/ca.crt" --requestheader-allowed-names=front-proxy-client \
        --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
        --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$p/front-proxy-client.crt" --proxy-client-key-file="$p/front-proxy-client.key" \
        --enable-aggregator-routing=true \
        --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --profiling=false
    wait_for "the API server" 60 kubectl_ get --raw /readyz
    start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$c/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$c/controller-manager.kubeconfig" --authorization-kubeconfig="$c/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials \
        --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" --profiling=false \
        "${NODE_MONITOR[@]}" "${AUTOSCALER[@]}"
    start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$c/scheduler.kubeconfig" \
        --authentication-kubeconfig="$c/scheduler.kubeconfig" --authorization-kubeconfig="$c/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --profiling=false

    # The Gateway API's and cert-manager's kinds, so the API server admits or refuses routes, Gateways and
    # certificates by their real schemas. Server-side: the largest exceeds the client-side annotation limit.
    kubectl_ apply --server-side -f "$("$here/engines/crds.sh")" >/dev/null

    pause_image
    for i in "${!NODES[@]}"; do node_start "$i"; done
    metrics_server
    prometheus
    metrics_adapter

    local node
    for node in "${NODES[@]}"; do
        wait_for "node $node to be Ready" 90 kubectl_ wait --for=condition=Ready "node/$node" --timeout=1s
    done
    wait_for "the default ServiceAccount" 60 kubectl_ get serviceaccount default -n default
    kubectl_ wait --for=condition=Established crd --all --timeout=60s >/dev/null
    wait_for "the resource metrics API (metrics-server's first scrape of every node)" 90 node_metrics
    wait_for "the registry" 30 curl -fsS -u "$REGISTRY_USER:$REGISTRY_PASSWORD" "http://127.0.0.1:$REGISTRY_PORT/v2/"
    wait_for "Prometheus" 30 curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
    wait_for "the custom metrics API" 60 kubectl_ get --raw /apis/custom.metrics.k8s.io/v1beta2

    local nodes_json="" sep=""
    for node in "${NODES[@]}"; do
        nodes_json+="$sep{ \"name\": \"$node\", \"containerd\": \"$S/nodes/$node/containerd/containerd.sock\" }"; sep=", "
    done
    cat > "$S/cluster.json" <<EOF
{
  "kubeconfig": "$S/kubeconfig",
  "kubectl": "$BIN/kubectl",
  "nodes": [$nodes_json],
  "nodeMonitorGracePeriodSeconds": 16,
  "version": "$("$BIN/kubectl" version --client -o json | sed -n 's/.*"gitVersion": "\(.*\)",/\1/p' | head -n1)",
  "registry": { "server": "127.0.0.1:$REGISTRY_PORT", "username": "$REGISTRY_USER", "password": "$REGISTRY_PASSWORD" },
  "prometheus": "http://127.0.0.1:$PROMETHEUS_PORT",
  "nodesCidr": "$NODES_CIDR"
}
EOF
    log "up: API https://127.0.0.1:$API_PORT, registry 127.0.0.1:$REGISTRY_PORT, nodes ${NODES[*]}, namespace $NETNS"
}

# Every PID `down` signals: it returns only once each has exited. (An exited process may linger as a
# zombie until its parent, often init, collects it; that holds nothing and is init's to reap.)
KILLED=()

running() { [[ -e /proc/$1 ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

kill_pid_file() { # <pid file> [KILL] — TERM, a grace period, then KILL; or KILL at once
    local pid; pid=$(cat "$1" 2>/dev/null) || return 0
    KILLED+=("$pid")
    if [[ ${2:-} != KILL ]]; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
        # A zombie still answers kill -0 until init reaps it; it holds nothing.
        for _ in $(seq 40); do running "$pid" || break; sleep 0.1; done
    fi
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$1"
}

# Every process left in a node's pod cgroups (containers, shims' children): killed outright.
kill_cgroup_procs() { # <cgroup root>
    local h
    for h in /sys/fs/cgroup/*/"$1"; do
        [[ -d $h ]] || continue
        local pids
        mapfile -t pids < <(find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null)
        ((${#pids[@]})) || continue
        KILLED+=("${pids[@]}")
        kill -KILL "${pids[@]}" 2>/dev/null || true
    done
}

# The runc shims of one containerd: they outlive it, and keep its containers' processes running.
kill_shims() { # <containerd socket>
    local shims
    mapfile -t shims < <(pgrep -f "containerd-shim-runc-v2 .*-address $1")
    if ((${#shims[@]})); then KILLED+=("${shims[@]}"); kill -KILL "${shims[@]}" 2>/dev/null; fi
    return 0
}

wait_killed() {
    local pid
    for pid in "${KILLED[@]}"; do
        for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
        running "$pid" && log "process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) still runs after 10 s"
    done
    return 0
}

remove_cgroups() {
    local h root
    for root in "${CGROUP_ROOTS[@]}"; do
        for h in /sys/fs/cgroup/*/"$root"; do
            [[ -d $h ]] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
    done
}

down() {
    [[ -d $S ]] || return 0
    # It removes the state dir at the end: never anything but one of ours.
    [[ ${S##*/} == dockyard-e2e-* ]] || { log "refusing to treat $S as a cluster state dir"; return 1; }
    set +e
    # Nodes first, so nothing restarts what is being stopped; then what runs the pods.
    local f root node
    for f in "$S"/pids/kubelet-* "$S"/pids/kube-proxy-*; do [[ -e $f ]] && kill_pid_file "$f"; done
    for root in "${CGROUP_ROOTS[@]}"; do kill_cgroup_procs "$root"; done
    for node in "${NODES[@]}"; do kill_shims "$S/nodes/$node/containerd/containerd.sock"; done
    for f in "$S"/pids/*; do [[ -e $f ]] && kill_pid_file "$f"; done
    for root in "${CGROUP_ROOTS[@]}"; do kill_cgroup_procs "$root"; done

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

    wait_killed
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

usage="usage: e2e-cluster.sh up|down <state-dir> | node-stop|node-start <state-dir> <node> | firewall-start|firewall-stop <state-dir> | cert-manager-start|cert-manager-stop <state-dir> | ingress-start <state-dir> <class> <namespace> | ingress-stop <state-dir> <namespace> | registry-password <state-dir> <password> | sweep"
cmd=${1:?$usage}
case $cmd in
    up)
        S=${2:?state dir}; OWNER_PID=${OWNER_PID:-$PPID}
        # `down` and `sweep` only ever remove a dockyard-e2e-* dir: a cluster started elsewhere could not be stopped.
        [[ ${S##*/} == dockyard-e2e-* ]] || { log "the state dir must be named dockyard-e2e-*, not ${S##*/}"; exit 2; }
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
    node-stop | node-start)
        S=${2:?state dir}
        [[ -f $S/env ]] || { log "no cluster in $S"; exit 1; }
        # shellcheck source=/dev/null
        source "$S/env"
        i=$(node_index "${3:?node name}")
        if [[ $cmd == node-stop ]]; then
            node_kill "$i"
            wait_killed
            log "node ${NODES[$i]} stopped"
        else
            node_start "$i"
            log "node ${NODES[$i]} started"
        fi
        ;;
    firewall-start | firewall-stop)
        S=${2:?state dir}
        [[ -f $S/env ]] || { log "no cluster in $S"; exit 1; }
        # shellcheck source=/dev/null
        source "$S/env"
        if [[ $cmd == firewall-start ]]; then
            firewall_rbac
            for i in "${!NODES[@]}"; do firewall_start "$i"; done
        else
            for i in "${!NODES[@]}"; do firewall_stop "$i"; done
        fi
        log "$cmd: done"
        ;;
    cert-manager-start | cert-manager-stop | ingress-start | ingress-stop)
        S=${2:?state dir}
        [[ -f $S/env ]] || { log "no cluster in $S"; exit 1; }
        # shellcheck source=/dev/null
        source "$S/env"
        case $cmd in
            cert-manager-start) cert_manager_start ;;
            cert-manager-stop) cert_manager_stop ;;
            ingress-start) ingress_start "${3:?ingress class}" "${4:?namespace}" ;;
            ingress-stop) ingress_stop "${3:?namespace}" ;;
        esac
        ;;
    registry-password)
        S=${2:?state dir}; password=${3:?new password}
        [[ -f $S/env ]] || { log "no cluster in $S"; exit 1; }
        # shellcheck source=/dev/null
        source "$S/env"
        user=$(cut -d: -f1 "$S/config/htpasswd")
        htpasswd -Bbn "$user" "$password" > "$S/config/htpasswd.new" && mv "$S/config/htpasswd.new" "$S/config/htpasswd"
        # The registry reads its htpasswd file once, at start: restart it on the new one.
        kill_pid_file "$S/pids/registry"
        start registry docker-registry serve "$S/config/registry.yml"
        wait_for "the registry" 30 curl -fsS -u "$user:$password" "http://127.0.0.1:$REGISTRY_PORT/v2/"
        log "registry: new password for $user"
        ;;
    sweep) sweep ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
