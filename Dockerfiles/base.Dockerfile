# tagship/base: the one shared base of every tagship image (Python 3.11, a non-root user, /drone/src).
# Plugin images build their venv in a build stage from the host-built wheelhouse and copy it onto this base.
# Works with the classic builder (no BuildKit/buildx needed).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="tagship/base" \
      org.opencontainers.image.description="Shared base of the tagship Drone CI plugin images" \
      org.opencontainers.image.source="https://github.com/tagship/tagship" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="tagship"

ENV PATH=/opt/tagship/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    LANG=C.UTF-8

# uid 1000 is the non-root user of tagship/tools (the seed's tip: run as a normal user). The Debian test-bed
# base already has `worker` at 1000; a python:slim base gets `tagship`.
#
# tagship-as-workspace-owner: plugins that write hand-off files (.version, .tags, .tagship/*.json) run as the
# owner of the workspace. In Drone that is root (its clone step creates /drone/src as root, and a uid-1000
# plugin could not write there); in a local checkout it is your uid, so no root-owned files are left behind.
# TAGSHIP_RUN_AS=<uid>:<gid> overrides.
RUN (getent passwd 1000 >/dev/null || useradd -u 1000 -U -m -s /bin/sh tagship) \
 && python3 -m venv --help >/dev/null \
 && mkdir -p /drone/src \
 && printf '%s\n' '#!/bin/sh' 'set -e' \
      'if [ "$(id -u)" = 0 ]; then' \
      '  who="${TAGSHIP_RUN_AS:-$(stat -c %u:%g .)}"' \
      '  if [ "${who%%:*}" != 0 ]; then' \
      '    export HOME=/tmp' \
      '    exec setpriv --reuid "${who%%:*}" --regid "${who#*:}" --clear-groups "$@"' \
      '  fi' \
      'fi' \
      'exec "$@"' >/usr/local/bin/tagship-as-workspace-owner \
 && chmod 755 /usr/local/bin/tagship-as-workspace-owner

WORKDIR /drone/src
