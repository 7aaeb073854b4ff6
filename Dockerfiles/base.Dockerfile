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

# uid 1000 is the non-root user of the plugins that need no docker socket (the seed's tip: run as a normal
# user). The Debian test-bed base already has `worker` at 1000; a python:slim base gets `tagship`.
RUN (getent passwd 1000 >/dev/null || useradd -u 1000 -U -m -s /bin/sh tagship) \
 && python3 -m venv --help >/dev/null \
 && mkdir -p /drone/src

WORKDIR /drone/src
