#!/usr/bin/env bash
# Build the tagship images on the local engine: tagship/base, one image per plugin, tagship/tools.
#
#   bash scripts/images.sh                  all images (make images)
#   bash scripts/images.sh oss-push tools   only these (the base is built when missing or stale)
#   bash scripts/images.sh --wheels-only    only the wheelhouse (tagship's .drone.yml builds the images with
#                                           registry-push from it)
#
# Wheels are built on the host (HTTPS to PyPI from inside a build is not assumed) into wheelhouse/:
#   wheelhouse/deps/     third-party wheels, rebuilt only when pyproject's dependencies change
#   wheelhouse/wheels/<image>/  that image's tagship wheel (scripts/image_wheels.py: only the image's rooms),
#                        rebuilt every run, kept when unchanged (SOURCE_DATE_EPOCH = last commit)
#   wheelhouse/req/      per-extra requirement lists, read from pyproject.toml
# Images install only from there (--no-index). The base image is $BASE_IMAGE: tagship/python-base:latest
# (the test bed's debootstrap'd bookworm) when it exists, else python:3.11-slim.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PY:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3   # in a CI step without the project's venv
WH="$ROOT/wheelhouse"
PLUGINS=(version-bump oss-push registry-push cs-deploy)
ALL=("${PLUGINS[@]}" tools)
OPTIONAL=(registry-push-dind)   # built only when named
export DOCKER_BUILDKIT=0  # the classic builder: buildx is not assumed

T0=${EPOCHREALTIME/[.,]/}
now() { echo $(( (${EPOCHREALTIME/[.,]/} - T0) / 1000 )); }
say() { local d; d=$(now); printf '[images %3d.%ds] %s\n' $((d / 1000)) $((d % 1000 / 100)) "$*"; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -z "${BASE_IMAGE:-}" ]]; then
  if docker image inspect tagship/python-base:latest >/dev/null 2>&1; then BASE_IMAGE=tagship/python-base:latest
  else BASE_IMAGE=python:3.11-slim; fi
fi
VERSION=$("$PY" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
VCS_REF=$(git -c safe.directory='*' rev-parse --short HEAD 2>/dev/null || echo unknown)
EPOCH=$(git -c safe.directory='*' log -1 --format=%ct 2>/dev/null || echo 315532800)
BUILD_DATE=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)

WHEELS_ONLY=0
if [[ "${1:-}" == --wheels-only ]]; then WHEELS_ONLY=1; shift; fi
wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=("${ALL[@]}")
for w in "${wanted[@]}"; do
  [[ " ${ALL[*]} ${OPTIONAL[*]} " == *" $w "* ]] || die "unknown image '$w' (one of: ${ALL[*]} ${OPTIONAL[*]})"
done

# ------------------------------------------------------------ wheelhouse
mkdir -p "$WH/req" "$WH/deps" "$WH/wheels"
printf '%s\n' '*.log' '.lock' >"$WH/.dockerignore"   # a smaller build context
# one build at a time (the demo and the e2e test may both call this)
exec 9>"$WH/.lock"
flock -w 900 9 || die "another images.sh holds $WH/.lock"
"$PY" - "$WH/req" <<'PYEOF'
import pathlib, re, sys, tomllib
proj = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = proj["optional-dependencies"]
def expand(names, seen=None):
    seen = set() if seen is None else seen
    out = []
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        for req in extras[name]:
            m = re.fullmatch(r"tagship\[(.+)\]", req.strip())
            out += expand(m.group(1).split(","), seen) if m else [req]
    return out
out = pathlib.Path(sys.argv[1])
core = list(proj["dependencies"])
lists = {"core": core, **{e: core + expand([e]) for e in ("version-bump", "oss-push", "registry-push", "cs-deploy", "tools")}}
for name, reqs in lists.items():
    text = "".join(sorted(set(r + "\n" for r in reqs)))
    path = out / f"{name}.txt"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
PYEOF
stamp=$(cat "$WH"/req/*.txt | sha256sum | cut -c1-16)
if [[ "$(cat "$WH/deps/.stamp" 2>/dev/null)" != "$stamp" ]] || ! ls "$WH"/deps/*.whl >/dev/null 2>&1; then
  say "building third-party wheels on the host (pip wheel)"
  rm -f "$WH"/deps/*.whl
  "$PY" -m pip wheel -q --disable-pip-version-check -w "$WH/deps" -r "$WH/req/tools.txt" \
    -r "$WH/req/version-bump.txt" -r "$WH/req/oss-push.txt" -r "$WH/req/registry-push.txt" \
    -r "$WH/req/cs-deploy.txt" >"$WH/pip.log" 2>&1 || { tail -20 "$WH/pip.log" >&2; die "pip wheel failed"; }
  echo "$stamp" >"$WH/deps/.stamp"
fi
say "building the tagship $VERSION wheels, one per image ($VCS_REF)"
# each image's wheel holds only its rooms: a plugin gets the kit and itself; tools gets everything
rm -rf "$WH/tagship"   # the single wheel of earlier versions
wheel_images=("${ALL[@]}")
SOURCE_DATE_EPOCH=$EPOCH "$PY" scripts/image_wheels.py "$WH" "${wheel_images[@]}" >"$WH/pip-tagship.log" 2>&1 \
  || { tail -20 "$WH/pip-tagship.log" >&2; die "tagship wheels failed"; }

if [[ $WHEELS_ONLY == 1 ]]; then say "wheelhouse ready: $WH"; exit 0; fi

# ------------------------------------------------------------ images
build() {  # image dockerfile [build-arg...]
  local image=$1 file=$2; shift 2
  local t; t=$(now)
  docker build -q --network host -f "Dockerfiles/$file" -t "$image:latest" -t "$image:$VERSION" \
    --build-arg TAGSHIP_VERSION="$VERSION" --build-arg VCS_REF="$VCS_REF" --build-arg BUILD_DATE="$BUILD_DATE" \
    "$@" "$WH" >"$WH/build-${image##*/}.log" 2>&1 \
    || { tail -30 "$WH/build-${image##*/}.log" >&2; die "docker build $image failed (log: $WH/build-${image##*/}.log)"; }
  local secs=$(( ($(now) - t) ))
  local size; size=$(docker image inspect -f '{{.Size}}' "$image:latest")
  ROWS+=("$(printf '%-24s %5d.%d MB %6d.%ds' "$image" $((size / 1000000)) $((size % 1000000 / 100000)) $((secs / 1000)) $((secs % 1000 / 100)))")
}

ROWS=()
say "base image: $BASE_IMAGE"
build tagship/base base.Dockerfile --build-arg BASE_IMAGE="$BASE_IMAGE"
for w in "${wanted[@]}"; do
  if [[ $w == registry-push-dind ]]; then
    [[ " ${wanted[*]} " == *" registry-push "* ]] || docker image inspect tagship/registry-push:latest >/dev/null 2>&1 \
      || build tagship/registry-push registry-push.Dockerfile --build-arg TAGSHIP_BASE=tagship/base:latest
    build "tagship/$w" "$w.Dockerfile" --build-arg TAGSHIP_BASE=tagship/registry-push:latest
  else
    build "tagship/$w" "$w.Dockerfile" --build-arg TAGSHIP_BASE=tagship/base:latest
  fi
done
say "done"
printf '%-24s %10s %8s\n' image size build
printf '%s\n' "${ROWS[@]}"
