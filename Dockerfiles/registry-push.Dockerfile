# tagship/registry-push — build and push an image to one or more registries, report the digest
# Only tagship[registry-push], installed from the host-built wheelhouse (build context: wheelhouse/; scripts/images.sh).
ARG TAGSHIP_BASE=tagship/base:latest
FROM ${TAGSHIP_BASE} AS build
RUN python3 -m venv /opt/tagship
# third-party dependencies first (a cached layer until pyproject changes), then tagship itself
COPY req/registry-push.txt /tmp/req.txt
COPY deps /tmp/wheels
RUN /opt/tagship/bin/pip install -q --no-index --find-links /tmp/wheels -r /tmp/req.txt
COPY wheels/registry-push /tmp/tagship
RUN /opt/tagship/bin/pip install -q --no-index --no-deps /tmp/tagship/tagship-*.whl \
 && find /opt/tagship -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/tagship/bin/python -c "import registry_push.__main__"

# Debian's docker CLI (20.10, from the docker.io package): it builds with BuildKit (--secret, --ssh, cache
# mounts) without buildx. Only the CLI binary is taken from the package, not the engine.
FROM ${TAGSHIP_BASE} AS cli
RUN apt-get update -qq \
 && cd /tmp && apt-get download -qq docker.io >/dev/null \
 && dpkg-deb --fsys-tarfile docker.io_*.deb | tar -x ./usr/bin/docker \
 && /tmp/usr/bin/docker --version

FROM ${TAGSHIP_BASE}
# Runs as root: it talks to the Docker engine through the socket the step mounts
# (/var/run/docker.sock), which is root-equivalent anyway; a non-root user would need the host's docker gid.
# git: the commit time of the workspace gives a reproducible `created` label. The same RUN line as in
# version-bump.Dockerfile, so the two images share the layer.
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/locale/*' >/etc/dpkg/dpkg.cfg.d/01-tagship-slim \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends git >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && git config --system --add safe.directory "*"
# ssh-agent and ssh-add for ssh_agent_key (BuildKit's --ssh default)
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends openssh-client >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
COPY --from=cli /tmp/usr/bin/docker /usr/bin/docker
COPY --from=build /opt/tagship /opt/tagship

# labels last: their values change on every build and must not invalidate the layers above
ARG TAGSHIP_VERSION=0.0.0
ARG VCS_REF=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="tagship/registry-push" \
      org.opencontainers.image.description="build and push an image to one or more registries, report the digest" \
      org.opencontainers.image.source="https://github.com/tagship/tagship" \
      org.opencontainers.image.documentation="https://github.com/tagship/tagship/blob/main/docs/plugins/registry-push.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="tagship" \
      org.opencontainers.image.version="${TAGSHIP_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}"

USER root
ENTRYPOINT ["/opt/tagship/bin/registry-push"]
