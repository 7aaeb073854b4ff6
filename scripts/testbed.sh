#!/usr/bin/env bash
# The real-service test bed: dockerd + swarm, two TLS/htpasswd registries on loopback,
# skopeo, and locally made base images (no Docker Hub here).
#
#   bash scripts/testbed.sh up          idempotent; fast when already up
#   bash scripts/testbed.sh up --cluster 3   also a 3-node swarm in network namespaces (scripts/cluster.sh)
#   bash scripts/testbed.sh cluster CMD ...  scripts/cluster.sh CMD (stop-node N, start-node N, status, down...)
#   bash scripts/testbed.sh down        stop the registries and remove the cluster (dockerd and swarm stay)
#   bash scripts/testbed.sh down --all  also leave swarm and stop dockerd if this script started it
#   bash scripts/testbed.sh status      one line per component; exit 1 if anything is down
#   bash scripts/testbed.sh env         the env file with secrets masked
#   eval "$(bash scripts/testbed.sh env --export)"   export the real values into a shell
#
# State lives in .testbed/ (git-ignored). Tests read .testbed/env (see tests/conftest.py).
# Runs as root on Debian. Never prints the registry passwords.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TB="${TAGSHIP_TESTBED_DIR:-$ROOT/.testbed}"
PACKAGES=(docker.io docker-registry skopeo busybox-static debootstrap apache2-utils openssl curl git
          ca-certificates xz-utils debian-archive-keyring iptables procps
          golang-go
          golang-github-drone-envsubst-dev
          golang-gopkg-yaml.v2-dev
          golang-github-ghodss-yaml-dev
          openssh-client openssh-server)
REG_USER=tagship
# Overridable for a second, separate bed on one machine (tests and measurements); defaults are the contract.
REG_A_PORT=${TAGSHIP_REGISTRY_PORT:-5443}
REG_B_PORT=${TAGSHIP_REGISTRY2_PORT:-5444}
BUSYBOX_IMAGE=${TAGSHIP_BUSYBOX_IMAGE:-tagship/busybox:latest}
PYBASE_IMAGE=${TAGSHIP_PYTHON_BASE_IMAGE:-tagship/python-base:latest}
# Bump when the recipe of a base image changes: `up` rebuilds images whose label differs.
BUSYBOX_RECIPE=busybox-1
PYBASE_RECIPE=python-base-1

export DEBIAN_FRONTEND=noninteractive
T0=${EPOCHREALTIME/[.,]/}
say() { local d=$(( (${EPOCHREALTIME/[.,]/} - T0) / 100000 )); printf '[testbed %3d.%ds] %s\n' $((d / 10)) $((d % 10)) "$*"; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
# Start a long-lived process detached from us: own session, no inherited fds (a CI log pipe or our
# lock must not stay open in it). Prints its pid.
daemon() {
  local log=$1; shift
  ( local f n
    for f in /proc/$BASHPID/fd/*; do n=${f##*/}; [[ $n -gt 2 ]] && eval "exec $n>&-"; done 2>/dev/null
    exec setsid nohup "$@" >"$log" 2>&1 </dev/null ) &
  echo $!
}

# ---------------------------------------------------------------- packages
missing_packages() {  # one dpkg-query for all (a package dpkg never heard of prints nothing)
  local installed
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null \
              | awk '$NF == "installed" && $(NF-1) == "ok" {print $1}' || true)
  local p; for p in "${PACKAGES[@]}"; do grep -qx "$p" <<<"$installed" || echo "$p"; done
}

ensure_packages() {
  local missing
  missing=$(missing_packages)
  if [[ -z "$missing" ]] && have dockerd && have docker-registry && have skopeo && have htpasswd; then
    return 0
  fi
  [[ $EUID -eq 0 ]] || die "packages missing ($missing); run as root"
  say "installing: $(echo $missing | tr '\n' ' ')"
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >"$TB/apt.log" 2>&1 \
    || { tail -20 "$TB/apt.log" >&2; die "apt-get install failed (log: $TB/apt.log)"; }
  have docker || die "no docker client after installing docker.io"
}

# ---------------------------------------------------------------- dockerd and swarm
docker_ok() { timeout 20 docker info >/dev/null 2>&1; }

ensure_dockerd() {
  if docker_ok; then return 0; fi
  if pgrep -x dockerd >/dev/null; then
    say "dockerd is running but not answering yet; waiting"
  else
    say "starting dockerd (log: $TB/dockerd.log)"
    daemon "$TB/dockerd.log" dockerd >"$TB/dockerd.pid"
  fi
  local i
  for i in $(seq 1 120); do
    docker_ok && { say "dockerd answers"; return 0; }
    sleep 0.5
  done
  tail -20 "$TB/dockerd.log" >&2 || true
  die "dockerd did not answer within 60s"
}

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }

ensure_swarm() {
  [[ "$(swarm_state)" == active ]] && return 0
  say "docker swarm init --advertise-addr 127.0.0.1"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
}

# ---------------------------------------------------------------- TLS and credentials
ensure_certs() {
  local d="$TB/tls"
  mkdir -p "$d" "$TB/certs"
  if [[ ! -s "$d/ca.crt" || ! -s "$d/server.crt" ]]; then
    say "making a CA and a server certificate (localhost, 127.0.0.1)"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tagship test bed CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -days 3650 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
    chmod 600 "$d"/*.key
  fi
  # a directory holding only the CA: for skopeo --cert-dir and the like
  cmp -s "$d/ca.crt" "$TB/certs/ca.crt" || cp "$d/ca.crt" "$TB/certs/ca.crt"
}

trust_ca() {  # after the registries are ours and up: never repoint dockerd at a CA another bed is using
  local d="$TB/tls" hp
  for hp in localhost:$REG_A_PORT 127.0.0.1:$REG_A_PORT localhost:$REG_B_PORT 127.0.0.1:$REG_B_PORT; do
    if ! cmp -s "$d/ca.crt" "/etc/docker/certs.d/$hp/ca.crt"; then
      mkdir -p "/etc/docker/certs.d/$hp"
      cp "$d/ca.crt" "/etc/docker/certs.d/$hp/ca.crt"
    fi
  done
}

ensure_credentials() {
  # registry.env holds the generated passwords; created once, never printed
  if [[ ! -s "$TB/registry.env" ]]; then
    say "generating registry passwords (kept in $TB/registry.env)"
    (umask 077; printf 'REG_A_PASSWORD=%s\nREG_B_PASSWORD=%s\n' \
        "$(openssl rand -hex 16)" "$(openssl rand -hex 16)" >"$TB/registry.env")
  fi
  # shellcheck disable=SC1091
  . "$TB/registry.env"
}

# ---------------------------------------------------------------- registries
reg_config() {  # name port -> writes $TB/registry-<name>/config.yml (and htpasswd)
  local name=$1 port=$2 pw=$3 dir="$TB/registry-$1"
  mkdir -p "$dir/data"
  if [[ ! -s "$dir/htpasswd" ]] || ! printf '%s' "$pw" | htpasswd -vi "$dir/htpasswd" "$REG_USER" >/dev/null 2>&1; then
    printf '%s' "$pw" | htpasswd -iBc "$dir/htpasswd" "$REG_USER" 2>/dev/null
  fi
  [[ -s "$dir/secret" ]] || (umask 077; openssl rand -hex 24 >"$dir/secret")
  cat >"$dir/config.yml.new" <<EOF
version: 0.1
log:
  level: info
  fields:
    service: registry-$name
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: $(cat "$dir/secret")
  tls:
    certificate: $TB/tls/server.crt
    key: $TB/tls/server.key
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: tagship-testbed-$name
    path: $dir/htpasswd
EOF
  chmod 600 "$dir/config.yml.new"
  if cmp -s "$dir/config.yml.new" "$dir/config.yml"; then
    rm -f "$dir/config.yml.new"; return 1   # unchanged
  fi
  mv "$dir/config.yml.new" "$dir/config.yml"; return 0
}

reg_pid() {  # the pid of our registry <name> if it runs (checked by its command line, not just the number)
  local f="$TB/registry-$1/pid" pid
  [[ -s $f ]] || return 1
  pid=$(cat "$f")
  grep -qaF "$TB/registry-$1/config.yml" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

# HTTP status of GET /v2/ with (auth=1) or without credentials
reg_probe() {
  local port=$1 pw=${2:-}
  if [[ -n $pw ]]; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TB/tls/ca.crt" \
      -K - "https://localhost:$port/v2/" <<<"user = \"$REG_USER:$pw\"" || true
  else
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TB/tls/ca.crt" \
      "https://localhost:$port/v2/" || true
  fi
}

reg_stop() {
  local name=$1 pid
  pid=$(reg_pid "$name" || true)
  [[ -n $pid ]] || { rm -f "$TB/registry-$name/pid"; return 0; }
  kill "$pid" 2>/dev/null || true
  local i; for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -f "$TB/registry-$name/pid"
  say "registry $name stopped"
}

ensure_registry() {
  local name=$1 port=$2 pw=$3 dir="$TB/registry-$1" changed=0
  reg_config "$name" "$port" "$pw" && changed=1
  if [[ -n "$(reg_pid "$name" || true)" ]]; then
    if [[ $changed == 0 && "$(reg_probe "$port" "$pw")" == 200 ]]; then return 0; fi
    say "registry $name: config changed or not answering; restarting"
    reg_stop "$name"
  elif [[ "$(reg_probe "$port")" != 000 ]]; then
    die "port $port is taken by something that is not this test bed's registry $name (another checkout's bed? share it: TAGSHIP_TESTBED_DIR=<its .testbed>)"
  fi
  say "starting registry $name on 127.0.0.1:$port (TLS, htpasswd)"
  daemon "$dir/registry.log" docker-registry serve "$dir/config.yml" >"$dir/pid"
  local i code
  for i in $(seq 1 100); do
    code=$(reg_probe "$port" "$pw")
    [[ $code == 200 ]] && break
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { tail -5 "$dir/registry.log" >&2; die "registry $name exited"; }
    sleep 0.1
  done
  [[ $code == 200 ]] || { tail -5 "$dir/registry.log" >&2; die "registry $name: GET /v2/ -> $code"; }
  [[ "$(reg_probe "$port")" == 401 ]] || die "registry $name answers without credentials"
}

# ---------------------------------------------------------------- base images
image_recipe() { docker image inspect -f '{{index .Config.Labels "tagship.testbed.recipe"}}' "$1" 2>/dev/null || true; }

ensure_busybox_image() {
  [[ "$(image_recipe $BUSYBOX_IMAGE)" == "$BUSYBOX_RECIPE" ]] && return 0
  say "building $BUSYBOX_IMAGE from busybox-static"
  local r="$TB/busybox-root" bb
  bb=$(dpkg -L busybox-static | grep -m1 -E '/bin/busybox$') || bb=/bin/busybox
  rm -rf "$r"
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,home/worker,tmp,var/tmp,var/www,proc,sys,dev,run}
  cp "$bb" "$r/bin/busybox"
  chroot "$r" /bin/busybox --install -s
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 700 "$r/root"
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
worker:x:1000:1000:worker:/home/worker:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
worker:x:1000:
nogroup:x:65534:
EOF
  chown 1000:1000 "$r/home/worker"
  tar -C "$r" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL tagship.testbed.recipe=$BUSYBOX_RECIPE" \
    --change 'CMD ["/bin/sh"]' - "$BUSYBOX_IMAGE" >/dev/null
  rm -rf "$r"
  say "$BUSYBOX_IMAGE ready"
}

debian_mirror() {
  [[ -n "${TAGSHIP_DEBIAN_MIRROR:-}" ]] && { echo "$TAGSHIP_DEBIAN_MIRROR"; return; }
  local url
  url=$( { grep -hs -E '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources | awk '{for(i=2;i<=NF;i++) print $i}'
           grep -hs -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
             | sed -E 's/\[[^]]*\]//' | awk '{print $2}'; } | grep -E '/debian/?$' | head -1 || true)
  echo "${url:-http://deb.debian.org/debian}"
}

ensure_python_base_image() {
  [[ "$(image_recipe $PYBASE_IMAGE)" == "$PYBASE_RECIPE" ]] && return 0
  local r="$TB/python-base-root" mirror suite
  mirror=$(debian_mirror)
  suite=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-bookworm}")
  say "building $PYBASE_IMAGE: debootstrap minbase $suite from $mirror (about a minute; log: $TB/debootstrap.log)"
  rm -rf "$r"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      "$suite" "$r" "$mirror" >"$TB/debootstrap.log" 2>&1 \
    || { tail -20 "$TB/debootstrap.log" >&2; die "debootstrap failed"; }
  say "debootstrap done; importing"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/tmp/*
  chroot "$r" /usr/sbin/groupadd -g 1000 worker 2>/dev/null || true
  chroot "$r" /usr/sbin/useradd -m -u 1000 -g 1000 -s /bin/sh worker 2>/dev/null || true
  tar -C "$r" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL tagship.testbed.recipe=$PYBASE_RECIPE" \
    --change 'CMD ["python3"]' - "$PYBASE_IMAGE" >/dev/null
  rm -rf "$r"
  say "$PYBASE_IMAGE ready"
}

# ---------------------------------------------------------------- env file
write_env() {
  local f="$TB/env"
  (umask 077; cat >"$f.new" <<EOF
# tagship test bed; written by scripts/testbed.sh up. Source it: . .testbed/env
export TAGSHIP_TESTBED_DIR=$TB
export TAGSHIP_REGISTRY=localhost:$REG_A_PORT
export TAGSHIP_REGISTRY_USER=$REG_USER
export TAGSHIP_REGISTRY_PASSWORD=$REG_A_PASSWORD
export TAGSHIP_REGISTRY2=localhost:$REG_B_PORT
export TAGSHIP_REGISTRY2_USER=$REG_USER
export TAGSHIP_REGISTRY2_PASSWORD=$REG_B_PASSWORD
export TAGSHIP_REGISTRY_CA=$TB/tls/ca.crt
export TAGSHIP_REGISTRY_CERT_DIR=$TB/certs
export TAGSHIP_BUSYBOX_IMAGE=$BUSYBOX_IMAGE
export TAGSHIP_PYTHON_BASE_IMAGE=$PYBASE_IMAGE
EOF
  )
  if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; say "wrote $f"; fi
}

# ---------------------------------------------------------------- commands
cmd_up() {
  mkdir -p "$TB"
  exec 9>"$TB/.lock"
  flock -w 900 9 || die "another 'testbed.sh up/down' holds $TB/.lock"
  ensure_packages
  ensure_dockerd
  ensure_swarm
  ensure_certs
  ensure_credentials
  ensure_registry a $REG_A_PORT "$REG_A_PASSWORD"
  ensure_registry b $REG_B_PORT "$REG_B_PASSWORD"
  trust_ca
  ensure_busybox_image
  ensure_python_base_image
  write_env
  say "up: registries localhost:$REG_A_PORT localhost:$REG_B_PORT, swarm $(swarm_state); env in $TB/env"
}

cmd_down() {
  mkdir -p "$TB"
  exec 9>"$TB/.lock"
  flock -w 900 9 || die "another 'testbed.sh up/down' holds $TB/.lock"
  [[ -d "$TB/cluster" ]] && bash "$ROOT/scripts/cluster.sh" down
  reg_stop a & reg_stop b & wait
  if [[ "${1:-}" == --all ]]; then
    if [[ "$(swarm_state)" == active ]]; then say "leaving swarm"; docker swarm leave --force >/dev/null; fi
    local pid=""
    [[ -s "$TB/dockerd.pid" ]] && pid=$(cat "$TB/dockerd.pid")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      say "stopping dockerd (pid $pid)"
      kill "$pid"
      local i; for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      rm -f "$TB/dockerd.pid"
    elif pgrep -x dockerd >/dev/null; then
      say "dockerd was not started by the test bed; left running"
    fi
  fi
  say "down"
}

cmd_status() {
  local bad=0 pw_a="" pw_b="" missing
  line() { printf '%-16s %s\n' "$1" "$2"; [[ $3 == ok ]] || bad=1; }
  missing=$(missing_packages | tr '\n' ' ')
  if [[ -z "$missing" ]]; then line packages "ok" ok; else line packages "missing: $missing" no; fi
  if docker_ok; then line dockerd "ok ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))" ok
  else line dockerd "not answering" no; fi
  local s; s=$(swarm_state); line swarm "$s" "$([[ $s == active ]] && echo ok || echo no)"
  if [[ -s "$TB/registry.env" ]]; then . "$TB/registry.env"; pw_a=$REG_A_PASSWORD; pw_b=$REG_B_PASSWORD; fi
  local name port pw code pid
  for name in a b; do
    if [[ $name == a ]]; then port=$REG_A_PORT; pw=$pw_a; else port=$REG_B_PORT; pw=$pw_b; fi
    pid=$(reg_pid $name || true)
    code=000; [[ -s "$TB/tls/ca.crt" && -n $pw ]] && code=$(reg_probe "$port" "$pw")
    if [[ $code == 200 ]]; then line "registry-$name" "ok localhost:$port (pid ${pid:-?})" ok
    else line "registry-$name" "down localhost:$port (GET /v2/ -> $code)" no; fi
  done
  if [[ -s /etc/docker/certs.d/localhost:$REG_A_PORT/ca.crt ]] && cmp -s "$TB/tls/ca.crt" "/etc/docker/certs.d/localhost:$REG_A_PORT/ca.crt"
  then line ca-trust "ok /etc/docker/certs.d" ok; else line ca-trust "missing" no; fi
  local img want
  for img in "$BUSYBOX_IMAGE:$BUSYBOX_RECIPE" "$PYBASE_IMAGE:$PYBASE_RECIPE"; do
    want=${img##*:}; img=${img%:*}
    if [[ "$(image_recipe "$img")" == "$want" ]]; then line "image" "ok $img" ok; else line image "missing $img" no; fi
  done
  if [[ -s "$TB/env" ]]; then line env "ok $TB/env" ok; else line env "missing $TB/env" no; fi
  if [[ -s "$TB/cluster/env" ]]; then bash "$ROOT/scripts/cluster.sh" status || bad=1; fi
  return $bad
}

cmd_env() {
  [[ -s "$TB/env" ]] || die "no $TB/env; run: make testbed"
  if [[ "${1:-}" == --export ]]; then
    grep '^export ' "$TB/env"
  else
    sed -E 's/^(export [A-Z0-9_]*PASSWORD)=.*/\1=******/' "$TB/env"
  fi
}

case "${1:-}" in
  up) shift
      if [[ "${1:-}" == --cluster ]]; then
        [[ "${2:-}" =~ ^[1-9]$ ]] || die "up --cluster N: 1 to 9 nodes"
        cmd_up; exec 9>&-; bash "$ROOT/scripts/cluster.sh" up "$2"
      else cmd_up; fi ;;
  cluster) shift; exec bash "$ROOT/scripts/cluster.sh" "$@" ;;
  down) shift; cmd_down "${1:-}" ;;
  status) cmd_status ;;
  env) shift; cmd_env "${1:-}" ;;
  *) echo "usage: $0 up [--cluster N] | cluster CMD... | down [--all] | status | env [--export]" >&2; exit 2 ;;
esac
