#!/usr/bin/env bash
# make demo: a git tag becomes a running, healthy release — and a bad release rolls back.
#
#   1. plugin images          scripts/images.sh (cached after the first run)
#   2. local OSS endpoint     tagship oss-server in the tagship/tools image (in production: Aliyun OSS)
#   3. a service repository   examples/go-service as a fresh git repo; tag v1.0.0
#   4. the pipeline           tagship exec: version-bump -> oss-push -> registry-push -> cs-deploy
#   5. check                  the service answers 1.0.0; its static files are in OSS with a manifest
#   6. a bad release          v1.0.1 fails its healthcheck: cs-deploy fails and rolls back; 1.0.0 keeps answering
#                             and `latest` still points at 1.0.0 (registry-push defers it; cs-deploy moves it
#                             only after a healthy deploy)
#
# Re-runnable: it removes its own stack, OSS container and work directory first. Needs `make testbed`.
# In production Drone runs the pipeline; `tagship exec` is the local try-out runner.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEMO="${TAGSHIP_DEMO_DIR:-/tmp/tagship-demo}"
STACK="${TAGSHIP_DEMO_STACK:-tagship-demo}"
PORT="${TAGSHIP_DEMO_PORT:-18080}"
OSS_NAME="tagship-demo-oss"
BUCKET=lyops
TAGSHIP="$ROOT/.venv/bin/tagship"
PY="$ROOT/.venv/bin/python"

B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; N=$'\e[0m'
[[ -t 1 ]] || { B=; G=; R=; N=; }
stage() { printf '\n%s━━ %s%s\n' "$B" "$*" "$N"; }
ok() { printf '%s✔ %s%s\n' "$G" "$*" "$N"; }
fail() { printf '%s✘ %s%s\n' "$R" "$*" "$N" >&2; exit 1; }
T0=$SECONDS

[[ -s .testbed/env ]] || fail "no .testbed/env: run 'make testbed' first (make demo does)"
# shellcheck disable=SC1091
. .testbed/env

# ------------------------------------------------------------------------------------------- clean
stage "0/6 clean up the previous run"
if docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$STACK"; then
  docker stack rm "$STACK" >/dev/null
  for _ in $(seq 1 60); do
    [[ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ]] && break; sleep 0.5
  done
fi
docker rm -f "$OSS_NAME" >/dev/null 2>&1 || true
rm -rf "$DEMO" && mkdir -p "$DEMO"
# the previous run's ly_ops/live66_gateway tags, so smart floating tags see a fresh registry again
"$PY" - <<'PY'
import os, requests
reg, auth = os.environ["TAGSHIP_REGISTRY"], (os.environ["TAGSHIP_REGISTRY_USER"], os.environ["TAGSHIP_REGISTRY_PASSWORD"])
ca, base = os.environ["TAGSHIP_REGISTRY_CA"], f"https://{os.environ['TAGSHIP_REGISTRY']}/v2/ly_ops/live66_gateway"
accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
tags = requests.get(f"{base}/tags/list", auth=auth, verify=ca, timeout=10).json().get("tags") or []
digests = {requests.head(f"{base}/manifests/{t}", auth=auth, verify=ca, timeout=10,
                         headers={"Accept": accept}).headers.get("Docker-Content-Digest") for t in tags}
for d in filter(None, digests):
    requests.delete(f"{base}/manifests/{d}", auth=auth, verify=ca, timeout=10)
PY
ok "clean ($DEMO, stack $STACK, registry repo ly_ops/live66_gateway)"

# ------------------------------------------------------------------------------------------- images
stage "1/6 build the plugin images"
bash scripts/images.sh | tail -7

# ------------------------------------------------------------------------------------------- OSS
stage "2/6 start the local OSS endpoint (tagship oss-server; in production: Aliyun OSS)"
umask 077
OSS_AK="demo-$(openssl rand -hex 6)"
OSS_SK="$(openssl rand -hex 20)"
umask 022
TAGSHIP_OSS_ACCESS_KEY_ID=$OSS_AK TAGSHIP_OSS_ACCESS_KEY_SECRET=$OSS_SK \
  docker run -d --name "$OSS_NAME" --network host --label tagship.demo=1 \
    -e TAGSHIP_OSS_ACCESS_KEY_ID -e TAGSHIP_OSS_ACCESS_KEY_SECRET \
    tagship/tools oss-server --port 0 --data /tmp/oss --bucket "$BUCKET" >/dev/null
OSS_URL=""
for _ in $(seq 1 100); do
  OSS_URL=$(docker logs "$OSS_NAME" 2>/dev/null | grep -m1 -oE 'https?://[0-9.:]+' || true)
  [[ -n "$OSS_URL" ]] && break; sleep 0.1
done
[[ -n "$OSS_URL" ]] || { docker logs "$OSS_NAME" | tail -5; fail "the OSS endpoint did not start"; }
ok "OSS endpoint $OSS_URL, bucket $BUCKET"

# ------------------------------------------------------------------------------------------- repo
stage "3/6 a service repository from examples/go-service, tagged v1.0.0"
REPO="$DEMO/live66-gateway"
cp -r examples/go-service "$REPO"
git -C "$REPO" init -q -b main
git -C "$REPO" add -A
git -C "$REPO" -c user.name=demo -c user.email=demo@example.com commit -q -m "live66 gateway"
git -C "$REPO" tag -a v1.0.0 -m v1.0.0
(umask 077; cat >"$DEMO/secrets.env" <<EOS
oss_access_key_id=$OSS_AK
oss_access_key_secret=$OSS_SK
docker_password=$TAGSHIP_REGISTRY_PASSWORD
EOS
)
ok "$REPO at $(git -c safe.directory="*" -C "$REPO" rev-parse --short HEAD), tag v1.0.0; secrets in $DEMO/secrets.env (mode 600)"

tag_digests() {  # tag... — one line per tag: the manifest digest the registry serves for it (HTTP API v2 HEAD)
  "$PY" - "$@" <<'PY'
import os, sys
from tagship.registry import RegistryClient
api = RegistryClient(os.environ["TAGSHIP_REGISTRY"], os.environ["TAGSHIP_REGISTRY_USER"],
                     os.environ["TAGSHIP_REGISTRY_PASSWORD"], verify=os.environ["TAGSHIP_REGISTRY_CA"])
for tag in sys.argv[1:]:
    print(tag, api.digest("ly_ops/live66_gateway", tag))
PY
}

run_pipeline() {  # tag — the full log goes to $DEMO/<tag>.log; the screen gets it without build chatter
  (cd "$REPO" && "$TAGSHIP" exec .drone.yml --tag "$1" --secrets-file "$DEMO/secrets.env" \
     --env REGISTRY="$TAGSHIP_REGISTRY" --env REGISTRY_USER="$TAGSHIP_REGISTRY_USER" --env OSS_ENDPOINT="$OSS_URL" --env OSS_BUCKET="$BUCKET" \
     --env GATEWAY_PORT="$PORT" --env STACK="$STACK" --env PUBLISH_MODE=host --env UPDATE_ORDER=stop-first) \
    2>&1 | tee "$DEMO/$1.log" \
    | grep --line-buffered -vE '^\[image\] .*(Step [0-9]+/[0-9]+ :|---> |Removing intermediate|Running in |Using cache)|^\[deploy\] .*INFO    \| |^\[[a-z]+\] .*(upload  |uploading: )'
}

# ------------------------------------------------------------------------------------------- release
stage "4/6 tagship exec: the tag pipeline for v1.0.0"
run_pipeline v1.0.0 || fail "the v1.0.0 pipeline failed"

stage "5/6 check the release"
answer=$(curl -s --max-time 5 "http://127.0.0.1:$PORT/" || true)
echo "GET http://127.0.0.1:$PORT/ -> $answer"
[[ "$answer" == *"1.0.0"* ]] || fail "the service does not answer with 1.0.0"
ok "the service answers with 1.0.0"
read -r _ D100 < <(tag_digests 1.0.0)
read -r _ DLATEST < <(tag_digests latest)
echo "registry: latest -> ${DLATEST:0:19}… (1.0.0 is ${D100:0:19}…)"
[[ "$DLATEST" == "$D100" ]] || fail "latest was not moved to 1.0.0 after its healthy deploy"
ok "latest moved to 1.0.0 after the healthy deploy"
OSS_URL=$OSS_URL OSS_AK=$OSS_AK OSS_SK=$OSS_SK "$PY" - <<'PYEOF'
import json, os, oss2
bucket = oss2.Bucket(oss2.Auth(os.environ["OSS_AK"], os.environ["OSS_SK"]), os.environ["OSS_URL"], "lyops")
prefix = "live66-gateway/static/1.0.0/"
keys = [o.key for o in oss2.ObjectIteratorV2(bucket, prefix=prefix)]
for k in keys:
    print("  oss://lyops/" + k)
manifest = json.loads(bucket.get_object(prefix + ".tagship-manifest.json").read())
print(f"  manifest: {len(manifest.get('files', {}))} files")
PYEOF
ok "static files in OSS under live66-gateway/static/1.0.0/ with their manifest"

# ------------------------------------------------------------------------------------------- bad release
stage "6/6 a bad release: v1.0.1 fails its healthcheck"
sed -i 's/APP_HEALTHY=${APP_HEALTHY:-yes}/APP_HEALTHY=${APP_HEALTHY:-no}/' "$REPO/conf/app.conf"
git -c safe.directory="*" -C "$REPO" -c user.name=demo -c user.email=demo@example.com commit -q -am "break the healthcheck"
git -c safe.directory="*" -C "$REPO" tag -a v1.0.1 -m v1.0.1
if run_pipeline v1.0.1; then fail "the v1.0.1 pipeline should have failed"; fi
ok "the deploy step is red (exit non-zero): the release did not go out"
docker service ps "${STACK}_gateway" --format '  {{.Image}}  {{.DesiredState}}/{{.CurrentState}}  {{.Error}}' | head -4
# stop-first on a host port (see docker-compose.yml) leaves a short gap while 1.0.0 starts again
answer=""
for _ in $(seq 1 60); do
  answer=$(curl -s --max-time 2 "http://127.0.0.1:$PORT/" || true)
  [[ "$answer" == *"1.0.0"* ]] && break; sleep 0.5
done
echo "GET http://127.0.0.1:$PORT/ -> $answer"
[[ "$answer" == *"1.0.0"* ]] || fail "after the failed release the service does not answer with 1.0.0"
ok "rolled back: 1.0.0 keeps answering"
read -r _ DLATEST < <(tag_digests latest)
read -r _ D101 < <(tag_digests 1.0.1)
echo "registry: latest -> ${DLATEST:0:19}… (1.0.0 is ${D100:0:19}…, the broken 1.0.1 is ${D101:0:19}…)"
[[ "$DLATEST" == "$D100" ]] || fail "latest moved off 1.0.0 although 1.0.1 failed its deploy"
ok "latest still points at 1.0.0: nobody pulling latest gets the broken release"

# ------------------------------------------------------------------------------------------- summary
stage "summary"
cat <<EOS
  v1.0.0   released: image $TAGSHIP_REGISTRY/ly_ops/live66_gateway:1.0.0 (by digest), static files in
           oss://$BUCKET/live66-gateway/static/1.0.0/, stack '$STACK' answering on :$PORT
  v1.0.1   failed its healthcheck -> cs-deploy exited non-zero and rolled back; 1.0.0 still serves,
           and latest/1/1.0 still point at 1.0.0 (only 1.0.1 itself was pushed)
  time     $((SECONDS - T0))s
  look     docker service ps ${STACK}_gateway · curl http://127.0.0.1:$PORT/ · $REPO/.tagship/*.json
  clean    docker stack rm $STACK; docker rm -f $OSS_NAME
EOS
