#!/usr/bin/env bash
# A real multi-node swarm on one machine, for the cluster tests (marker `cluster`) and `make demo CLUSTER=3`.
#
#   bash scripts/cluster.sh up [N]          N nodes (default 3): node1 manager, the rest workers; idempotent,
#                                           fast when up; repairs stopped/drained/extra nodes and a lost quorum
#   bash scripts/cluster.sh down            removes everything: processes, namespaces, bridge, rule, data
#   bash scripts/cluster.sh status          one line per part; exit 1 if anything is down
#   bash scripts/cluster.sh env             the env file (passwords masked)
# For tests that break the cluster for real:
#   stop-node N                             SIGKILL the node's dockerd, containerd, shims and containers
#   start-node N                            start it again (it rejoins with its own swarm state)
#   add-node N [--hostname H] [--worker] [--dockerd PATH]
#                                           an extra node (N > nodes); --hostname to collide with another;
#                                           --dockerd to run another engine (e.g. the one old-engine prints)
#   old-engine                              last line: the path of an older dockerd (Debian bullseye's
#                                           docker.io, downloaded once, sha256-checked, cached in
#                                           $TAGSHIP_TESTBED_DIR/cache; `up` fetches it too, a failure is fatal)
#   remove-node N                           leave, stop, remove its namespace and data
#   reset-swarm                             re-form the swarm from scratch (workers rejoin)
#   docker N ARGS...                        the docker CLI against node N
#
# Each node: network namespace tsc-nodeN (veth on bridge tsc-br0, 10.213.0.1N/24), its own dockerd started
# with `nsenter --net=/run/netns/tsc-nodeN unshare --uts` (not `ip netns exec`, which remounts /sys and hides
# the cgroup mounts), its own data-root, exec-root, pidfile, socket, hostname and cgroup parent. Every address
# is in 10.213.0.0/16: the bridge 10.213.0.0/24, node N's local pools 10.213.(8N).0/21 and docker0
# 10.213.(100+N).1/24, the overlay pool 10.213.128.0/17. The host's FORWARD chain (policy DROP, bridge-nf on)
# gets one ACCEPT for the bridge, tagged with the comment tagship-cluster. A TLS + htpasswd registry listens on
# 10.213.0.1:5445 (the test bed's CA). State: $TAGSHIP_TESTBED_DIR/cluster (default .testbed/cluster).
# Needs the host test bed up (its CA and busybox image): scripts/testbed.sh up.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TB="${TAGSHIP_TESTBED_DIR:-$ROOT/.testbed}"
CD="$TB/cluster"
BR=tsc-br0
BR_MAC=02:74:73:63:00:01   # locally administered
NET=10.213
REG_ADDR=$NET.0.1:5445
REG_USER=tagship
RULE=(FORWARD -i $BR -o $BR -m comment --comment tagship-cluster -j ACCEPT)
BUSYBOX_IMAGE=${TAGSHIP_BUSYBOX_IMAGE:-tagship/busybox:latest}
HEARTBEAT=2s   # swarm dispatcher heartbeat: a dead node is marked down within a few seconds
# An older engine for the version-skew preflight test: Debian bullseye's docker.io (bookworm's is 20.10.24).
OLD_ENGINE=20.10.5+dfsg1-1+deb11u2
OLD_ENGINE_SHA256=6af074592eaecfe6710ae6d49eeb7dc4855afb65a3c96a25ed92c38c2c7963e0
OLD_ENGINE_MIRRORS=${TAGSHIP_DEBIAN_MIRRORS:-http://deb.debian.org/debian http://archive.debian.org/debian}

T0=${EPOCHREALTIME/[.,]/}
say() { local d=$(( (${EPOCHREALTIME/[.,]/} - T0) / 100000 )); printf '[cluster %3d.%ds] %s\n' $((d / 10)) $((d % 10)) "$*"; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }
daemon() {  # detached: own session, no inherited fds; prints its pid
  local log=$1; shift
  ( local f n
    for f in /proc/$BASHPID/fd/*; do n=${f##*/}; [[ $n -gt 2 ]] && eval "exec $n>&-"; done 2>/dev/null
    exec setsid nohup "$@" >"$log" 2>&1 </dev/null ) &
  echo $!
}

ns() { echo "tsc-node$1"; }
addr() { echo "$NET.0.$((10 + $1))"; }
ndir() { echo "$CD/node$1"; }
sock() { echo "$CD/node$1/docker.sock"; }
xroot() { echo "/run/tsc/n$1"; }
dk() { local n=$1; shift; timeout "${DK_TIMEOUT:-30}" docker -H "unix://$(sock "$n")" "$@"; }
node_ok() { [[ -S $(sock "$1") ]] && DK_TIMEOUT=10 dk "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
known_nodes() {  # every node number with a directory or a namespace
  { ls -d "$CD"/node* 2>/dev/null | sed 's/.*node//'; ip netns list 2>/dev/null | awk '{print $1}' \
      | sed -n 's/^tsc-node\([0-9]*\)$/\1/p'; } | sort -un
}
lock() { mkdir -p "$CD"; exec 8>"$CD/.lock"; flock -w 600 8 || die "another cluster.sh holds $CD/.lock"; }

# ---------------------------------------------------------------- network
ensure_bridge() {
  if ! ip link show $BR >/dev/null 2>&1; then
    say "bridge $BR ($NET.0.1/24)"
    ip link add $BR type bridge
    ip addr add $NET.0.1/24 dev $BR
  fi
  # a fixed MAC: otherwise the bridge takes its lowest port's, and a node added later (add-node) can change it,
  # leaving every namespace's ARP entry for $NET.0.1 (the registry) stale: connections time out for a while
  if [[ $(cat /sys/class/net/$BR/address) != "$BR_MAC" ]]; then
    ip link set $BR address "$BR_MAC"
    local n; for n in $(known_nodes); do ip -n "$(ns "$n")" neigh flush dev eth0 2>/dev/null || true; done
  fi
  ip link set $BR up
  sysctl -qw net.ipv4.ip_forward=1
  iptables -C "${RULE[@]}" 2>/dev/null || iptables -I "${RULE[@]}"
}

ensure_netns() {
  local n=$1 name; name=$(ns "$n")
  [[ -e /run/netns/$name ]] && ip -n "$name" link show eth0 >/dev/null 2>&1 && return 0
  say "namespace $name ($(addr "$n"))"
  ip netns del "$name" 2>/dev/null || true
  ip link del "tsc-v$n" 2>/dev/null || true
  ip netns add "$name"
  ip link add "tsc-v$n" type veth peer name eth0 netns "$name"
  ip link set "tsc-v$n" master $BR up
  ip -n "$name" addr add "$(addr "$n")/24" dev eth0
  ip -n "$name" link set lo up
  ip -n "$name" link set eth0 up
  ip -n "$name" route add default via $NET.0.1
}

# ---------------------------------------------------------------- node daemons
start_dockerd() {  # n hostname [dockerd binary; default: the one it ran with before, else the host's]
  local n=$1 host=$2 d bin; d=$(ndir "$n")
  node_ok "$n" && return 0
  mkdir -p "$d/data" "$(xroot "$n")"
  rm -f "$(sock "$n")" "$d/dockerd.pid"
  echo "$host" >"$d/hostname"
  bin=${3:-$(cat "$d/dockerd.bin" 2>/dev/null || echo dockerd)}
  echo "$bin" >"$d/dockerd.bin"
  say "dockerd on $(ns "$n") (hostname $host${3:+, $bin})"
  daemon "$d/dockerd.log" nsenter --net="/run/netns/$(ns "$n")" unshare --uts \
    sh -c 'hostname "$0" && exec "$@"' "$host" \
    "$bin" --data-root "$d/data" --exec-root "$(xroot "$n")" --pidfile "$d/dockerd.pid" \
      -H "unix://$(sock "$n")" --cgroup-parent "/$(ns "$n")" --bip "$NET.$((100 + n)).1/24" \
      --default-address-pool "base=$NET.$((8 * n)).0/21,size=24" --userland-proxy=false \
      --log-level warn >/dev/null
  local i
  for i in $(seq 1 120); do node_ok "$n" && return 0; sleep 0.25; done
  tail -20 "$d/dockerd.log" >&2 || true
  die "dockerd of node $n did not answer within 30s (log: $d/dockerd.log)"
}

kill_node() {  # SIGKILL everything of node n: processes in its namespace and its containers' cgroups
  local n=$1 name pids i; name=$(ns "$n")
  for i in 1 2 3 4 5; do
    pids=$( { [[ -e /run/netns/$name ]] && ip netns pids "$name"
              cat /sys/fs/cgroup/pids/"$name"/*/cgroup.procs 2>/dev/null; } | sort -u || true)
    [[ -n $pids ]] || break
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.2
  done
  rm -f "$(ndir "$n")/dockerd.pid"
}

unmount_under() {  # lazily unmount everything below a path (deepest first)
  awk -v p="$1/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

destroy_node() {
  local n=$1 name; name=$(ns "$n")
  kill_node "$n"
  unmount_under "$(ndir "$n")"; unmount_under "$(xroot "$n")"
  rm -rf "$(ndir "$n")" "$(xroot "$n")"
  find /sys/fs/cgroup/*/"$name" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  ip netns del "$name" 2>/dev/null || true
  ip link del "tsc-v$n" 2>/dev/null || true
}

ensure_old_engine() {  # sets OLD_DOCKERD: bullseye's dockerd, extracted into $TB/cache (downloaded once)
  local c="$TB/cache/docker.io_$OLD_ENGINE" deb m url ok=
  OLD_DOCKERD=$c/usr/sbin/dockerd
  [[ -x $OLD_DOCKERD ]] && "$OLD_DOCKERD" --version >/dev/null 2>&1 && return 0
  mkdir -p "$TB/cache"; deb="$c.deb"
  for m in $OLD_ENGINE_MIRRORS; do
    url="$m/pool/main/d/docker.io/docker.io_${OLD_ENGINE//+/%2B}_amd64.deb"
    say "downloading $url"
    if curl -fsSL --retry 3 --connect-timeout 20 --max-time 600 -o "$deb.part" "$url" \
        && echo "$OLD_ENGINE_SHA256  $deb.part" | sha256sum -c --status; then ok=1; break; fi
    say "  failed or wrong sha256 (want $OLD_ENGINE_SHA256)"
  done
  [[ -n $ok ]] || { rm -f "$deb.part"; die "could not fetch docker.io $OLD_ENGINE from: $OLD_ENGINE_MIRRORS (set TAGSHIP_DEBIAN_MIRRORS)"; }
  rm -rf "$c.new"; dpkg-deb -x "$deb.part" "$c.new" || die "dpkg-deb -x $deb.part failed"
  rm -f "$deb.part"
  "$c.new/usr/sbin/dockerd" --version >/dev/null || die "the extracted $c.new/usr/sbin/dockerd does not run"
  rm -rf "$c"; mv "$c.new" "$c"
  say "old engine: $("$OLD_DOCKERD" --version)"
}

# ---------------------------------------------------------------- swarm
swarm_field() { dk "$1" info --format "$2" 2>/dev/null || echo unknown; }
manager_ok() {  # node 1 is an active manager with a leader
  [[ "$(swarm_field 1 '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" == "active true" ]] \
    && dk 1 node ls -q >/dev/null 2>&1
}

ensure_manager() {
  manager_ok && return 0
  local state; state=$(swarm_field 1 '{{.Swarm.LocalNodeState}}')
  if [[ $state == inactive ]]; then
    say "swarm init on node1"
    dk 1 swarm init --advertise-addr "$(addr 1)" --listen-addr "$(addr 1):2377" \
      --default-addr-pool $NET.128.0/17 --default-addr-pool-mask-length 24 \
      --dispatcher-heartbeat $HEARTBEAT >/dev/null
  else
    say "node1: swarm $state without a leader; forcing a new cluster"
    dk 1 swarm init --force-new-cluster --advertise-addr "$(addr 1)" --listen-addr "$(addr 1):2377" >/dev/null
  fi
  local i; for i in $(seq 1 60); do manager_ok && return 0; sleep 0.5; done
  die "node1 is not a swarm manager with a leader"
}

ensure_worker() {  # n token: joined to node1's swarm (the manager knows its node ID), or (re)join
  local n=$1 token=$2 state id
  read -r state id <<<"$(swarm_field "$n" '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}')"
  if [[ $state == active && -n ${id:-} ]] && dk 1 node inspect "$id" >/dev/null 2>&1; then return 0; fi
  say "node$n joins the swarm (was: ${state:-?})"
  [[ $state == inactive ]] || dk "$n" swarm leave --force >/dev/null 2>&1 || true
  dk "$n" swarm join --token "$token" --advertise-addr "$(addr "$n")" --listen-addr "$(addr "$n"):2377" \
    "$(addr 1):2377" >/dev/null
}

tidy_nodes() {  # on the manager: drop dead duplicates, undrain, demote extra managers, clear labels
  local want=$1 id host state avail role labels
  dk 1 node ls --format '{{.ID}} {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}' | \
  while read -r id host state avail role; do
    if [[ $state == Down ]]; then say "removing dead node entry $host ($id)"; dk 1 node rm --force "$id" >/dev/null || true; continue; fi
    [[ $avail == Active ]] || { say "$host: availability active"; dk 1 node update --availability active "$id" >/dev/null; }
    if [[ -n $role && $host != tsc-node1 ]]; then say "$host: demoted"; dk 1 node demote "$id" >/dev/null || true; fi
    labels=$(dk 1 node inspect -f '{{range $k, $v := .Spec.Labels}}{{$k}} {{end}}' "$id")
    local l; for l in $labels; do dk 1 node update --label-rm "$l" "$id" >/dev/null; done
  done
}

drop_stale_twins() {  # an old entry of a node that rejoined (same hostname, not Ready): remove it
  local ready id host state
  ready=$(dk 1 node ls --format '{{.Hostname}} {{.Status}}' | awk '$2 == "Ready" {print $1}')
  dk 1 node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | while read -r id host state; do
    if [[ $state != Ready ]] && grep -qx "$host" <<<"$ready"; then
      say "removing stale entry of $host ($id)"; dk 1 node rm --force "$id" >/dev/null || true
    fi
  done
  return 0
}

wait_nodes_ready() {  # every node 1..want Ready in the manager's view
  local want=$1 i ready
  for i in $(seq 1 120); do
    ready=$(dk 1 node ls --format '{{.Hostname}} {{.Status}}' | awk '$2 == "Ready" {print $1}' | sort -u | wc -l)
    [[ $ready -ge $want ]] && return 0
    sleep 0.5
  done
  dk 1 node ls >&2 || true
  die "only $ready of $want nodes are Ready"
}

# ---------------------------------------------------------------- registry and images
ensure_registry() {
  local d="$CD/registry" pid code
  mkdir -p "$d/data"
  [[ -s $TB/tls/ca.key ]] || die "no test bed CA in $TB/tls; run scripts/testbed.sh up first"
  if [[ ! -s $d/server.crt ]] || ! cmp -s "$d/ca.crt" "$TB/tls/ca.crt"; then
    say "registry certificate for ${REG_ADDR%:*}"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=${REG_ADDR%:*}" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:${REG_ADDR%:*}" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$TB/tls/ca.crt" -CAkey "$TB/tls/ca.key" -CAcreateserial \
      -CAserial "$d/ca.srl" -days 3650 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
    cp "$TB/tls/ca.crt" "$d/ca.crt"; chmod 600 "$d/server.key"
  fi
  if [[ ! -s $CD/registry.env ]]; then
    (umask 077; printf 'REG_C_PASSWORD=%s\n' "$(openssl rand -hex 16)" >"$CD/registry.env")
  fi
  # shellcheck disable=SC1091
  . "$CD/registry.env"
  [[ -s $d/htpasswd ]] || printf '%s' "$REG_C_PASSWORD" | htpasswd -iBc "$d/htpasswd" "$REG_USER" 2>/dev/null
  [[ -s $d/secret ]] || (umask 077; openssl rand -hex 24 >"$d/secret")
  (umask 077; cat >"$d/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $d/data}
  delete: {enabled: true}
http:
  addr: $REG_ADDR
  secret: $(cat "$d/secret")
  tls: {certificate: $d/server.crt, key: $d/server.key}
auth:
  htpasswd: {realm: tagship-cluster, path: $d/htpasswd}
EOF
  )
  mkdir -p "/etc/docker/certs.d/$REG_ADDR"
  cmp -s "$TB/tls/ca.crt" "/etc/docker/certs.d/$REG_ADDR/ca.crt" || cp "$TB/tls/ca.crt" "/etc/docker/certs.d/$REG_ADDR/ca.crt"
  code=$(reg_probe "$REG_C_PASSWORD")
  [[ $code == 200 ]] && return 0
  pid=$(cat "$d/pid" 2>/dev/null || true)
  [[ -n $pid ]] && grep -qaF "$d/config.yml" "/proc/$pid/cmdline" 2>/dev/null && kill "$pid" && sleep 0.3
  say "registry on $REG_ADDR (TLS, htpasswd)"
  daemon "$d/registry.log" docker-registry serve "$d/config.yml" >"$d/pid"
  local i; for i in $(seq 1 100); do code=$(reg_probe "$REG_C_PASSWORD"); [[ $code == 200 ]] && break; sleep 0.1; done
  [[ $code == 200 ]] || { tail -5 "$d/registry.log" >&2; die "cluster registry: GET /v2/ -> $code"; }
}

reg_probe() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TB/tls/ca.crt" \
    -K - "https://$REG_ADDR/v2/" <<<"user = \"$REG_USER:$1\"" || true
}

ensure_busybox() {
  local n=$1 want
  want=$(docker image inspect -f '{{.Id}}' "$BUSYBOX_IMAGE" 2>/dev/null) || die "no $BUSYBOX_IMAGE on the host; run scripts/testbed.sh up"
  [[ "$(dk "$n" image inspect -f '{{.Id}}' "$BUSYBOX_IMAGE" 2>/dev/null || true)" == "$want" ]] && return 0
  say "loading $BUSYBOX_IMAGE on node$n"
  docker save "$BUSYBOX_IMAGE" | DK_TIMEOUT=120 dk "$n" load -q >/dev/null
}

write_env() {
  local want=$1 f="$CD/env"
  (umask 077; {
    echo "# the tagship cluster; written by scripts/cluster.sh up"
    echo "export TAGSHIP_CLUSTER_DIR=$CD"
    echo "export TAGSHIP_CLUSTER_NODES=$want"
    echo "export TAGSHIP_CLUSTER_MANAGER=unix://$(sock 1)"
    local n; for n in $(seq 1 "$want"); do echo "export TAGSHIP_CLUSTER_NODE${n}=unix://$(sock "$n")"; done
    echo "export TAGSHIP_CLUSTER_REGISTRY=$REG_ADDR"
    echo "export TAGSHIP_CLUSTER_REGISTRY_USER=$REG_USER"
    echo "export TAGSHIP_CLUSTER_REGISTRY_PASSWORD=$REG_C_PASSWORD"
    echo "export TAGSHIP_CLUSTER_OLD_DOCKERD=$OLD_DOCKERD"
  } >"$f.new")
  if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; fi
}

# ---------------------------------------------------------------- commands
cmd_up() {
  local want=${1:-3} n
  [[ $want =~ ^[1-9]$ ]] || die "up N: 1 to 9 nodes"
  [[ $EUID -eq 0 ]] || die "needs root (namespaces, iptables, dockerd)"
  lock
  ensure_bridge
  for n in $(known_nodes); do (( n > want )) && { say "removing extra node$n"; dk 1 node rm --force "$(ns "$n")" >/dev/null 2>&1 || true; destroy_node "$n"; }; done
  for n in $(seq 1 "$want"); do ensure_netns "$n"; done
  local pids=()
  for n in $(seq 1 "$want"); do start_dockerd "$n" "$(ns "$n")" & pids+=($!); done; wait "${pids[@]}"
  for n in $(seq 1 "$want"); do node_ok "$n" || die "node$n is not answering"; done
  ensure_manager
  local token; token=$(dk 1 swarm join-token -q worker)
  for n in $(seq 2 "$want"); do ensure_worker "$n" "$token"; done
  tidy_nodes "$want"
  wait_nodes_ready "$want"
  drop_stale_twins
  ensure_registry
  pids=()
  for n in $(seq 1 "$want"); do ensure_busybox "$n" & pids+=($!); done; wait "${pids[@]}"
  ensure_old_engine
  write_env "$want"
  say "up: $want nodes (manager $(addr 1)), registry $REG_ADDR; env in $CD/env"
}

cmd_down() {
  lock
  local n pid
  for n in $(known_nodes); do destroy_node "$n"; done
  pid=$(cat "$CD/registry/pid" 2>/dev/null || true)
  [[ -n $pid ]] && grep -qaF "$CD/registry/config.yml" "/proc/$pid/cmdline" 2>/dev/null && kill "$pid" 2>/dev/null || true
  while iptables -C "${RULE[@]}" 2>/dev/null; do iptables -D "${RULE[@]}"; done
  ip link del $BR 2>/dev/null || true
  rm -rf "/etc/docker/certs.d/$REG_ADDR" /run/tsc
  find "$CD" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  say "down: nodes, namespaces, bridge, rule, registry and data removed"
}

cmd_status() {
  local bad=0 n want
  line() { printf '%-16s %s\n' "$1" "$2"; [[ $3 == ok ]] || bad=1; }
  want=$(sed -n 's/^export TAGSHIP_CLUSTER_NODES=//p' "$CD/env" 2>/dev/null || true)
  [[ -n $want ]] || { line cluster "not up (no $CD/env)" no; return 1; }
  ip link show $BR >/dev/null 2>&1 && line bridge "ok $BR" ok || line bridge "missing $BR" no
  iptables -C "${RULE[@]}" 2>/dev/null && line forward-rule ok ok || line forward-rule missing no
  for n in $(seq 1 "$want"); do
    if node_ok "$n"; then line "node$n" "ok $(swarm_field "$n" '{{.Name}} {{.ServerVersion}} swarm {{.Swarm.LocalNodeState}}')" ok
    else line "node$n" "not answering" no; fi
  done
  if manager_ok; then
    local ready; ready=$(dk 1 node ls --format '{{.Status}} {{.Availability}}' | grep -c '^Ready Active$' || true)
    line swarm "$ready/$want nodes ready and active" "$([[ $ready == "$want" ]] && echo ok || echo no)"
  else line swarm "no manager with a leader" no; fi
  # shellcheck disable=SC1091
  . "$CD/registry.env" 2>/dev/null || true
  [[ "$(reg_probe "${REG_C_PASSWORD:-}")" == 200 ]] && line registry "ok $REG_ADDR" ok || line registry "down $REG_ADDR" no
  return $bad
}

case "${1:-}" in
  up) shift; cmd_up "${1:-3}" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) [[ -s $CD/env ]] || die "no $CD/env; run: scripts/cluster.sh up"
       sed -E 's/^(export [A-Z0-9_]*PASSWORD)=.*/\1=******/' "$CD/env" ;;
  stop-node) [[ ${2:-} =~ ^[0-9]+$ ]] || die "stop-node N"; lock; kill_node "$2"; say "node$2 stopped (SIGKILL)" ;;
  start-node) [[ ${2:-} =~ ^[0-9]+$ ]] || die "start-node N"; lock; ensure_netns "$2"
              start_dockerd "$2" "$(cat "$(ndir "$2")/hostname" 2>/dev/null || ns "$2")"; say "node$2 started" ;;
  add-node)
    n=${2:-}; [[ $n =~ ^[0-9]+$ ]] || die "add-node N [--hostname H] [--dockerd PATH]"; host=$(ns "$n"); bin=dockerd; shift 2
    while [[ $# -gt 0 ]]; do case $1 in --hostname) host=$2; shift 2 ;; --dockerd) bin=$2; shift 2 ;;
                                        --worker) shift ;; *) die "add-node: unknown $1" ;; esac; done
    [[ $bin == dockerd ]] || [[ -x $bin ]] || die "add-node: --dockerd $bin is not an executable"
    lock; ensure_bridge; ensure_netns "$n"; start_dockerd "$n" "$host" "$bin"
    ensure_worker "$n" "$(dk 1 swarm join-token -q worker)"
    say "node$n (hostname $host, $(DK_TIMEOUT=10 dk "$n" version --format '{{.Server.Version}}')) joined" ;;
  old-engine) lock; ensure_old_engine; echo "$OLD_DOCKERD" ;;
  remove-node)
    n=${2:-}; [[ $n =~ ^[0-9]+$ && $n != 1 ]] || die "remove-node N (not 1)"; lock
    id=$(swarm_field "$n" '{{.Swarm.NodeID}}')
    dk "$n" swarm leave --force >/dev/null 2>&1 || true
    destroy_node "$n"
    if [[ -n $id && $id != unknown ]]; then
      for i in $(seq 1 40); do dk 1 node rm --force "$id" >/dev/null 2>&1 && break; sleep 0.25; done
    fi
    say "node$n removed" ;;
  reset-swarm) lock; for n in $(known_nodes); do dk "$n" swarm leave --force >/dev/null 2>&1 || true; done
               say "every node left the swarm; run up to form it again" ;;
  docker) n=${2:-}; shift 2; exec docker -H "unix://$(sock "$n")" "$@" ;;
  *) echo "usage: $0 up [N] | down | status | env | stop-node N | start-node N |" \
          "add-node N [--hostname H] [--dockerd PATH] | old-engine | remove-node N | reset-swarm | docker N ARGS..." >&2; exit 2 ;;
esac
