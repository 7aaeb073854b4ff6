# tagship/version-bump — read the version from the tag, validate it, write .version/.tags for later steps
# Only tagship[version-bump], installed from the host-built wheelhouse (build context: wheelhouse/; scripts/images.sh).
ARG TAGSHIP_BASE=tagship/base:latest
FROM ${TAGSHIP_BASE} AS build
RUN python3 -m venv /opt/tagship
# third-party dependencies first (a cached layer until pyproject changes), then tagship itself
COPY req/version-bump.txt /tmp/req.txt
COPY deps /tmp/wheels
RUN /opt/tagship/bin/pip install -q --no-index --find-links /tmp/wheels -r /tmp/req.txt
COPY wheels/version-bump /tmp/tagship
RUN /opt/tagship/bin/pip install -q --no-index --no-deps /tmp/tagship/tagship-*.whl \
 && find /opt/tagship -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/tagship/bin/python -c "import version_bump.__main__"

FROM ${TAGSHIP_BASE}
# git reads the tags (Debian mirror over plain HTTP; no HTTPS needed). Drone clones the workspace as root, so
# git must trust a repository owned by another user (safe.directory), or it refuses to read it.
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/locale/*' >/etc/dpkg/dpkg.cfg.d/01-tagship-slim \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends git >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && git config --system --add safe.directory "*"
COPY --from=build /opt/tagship /opt/tagship

# labels last: their values change on every build and must not invalidate the layers above
ARG TAGSHIP_VERSION=0.0.0
ARG VCS_REF=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="tagship/version-bump" \
      org.opencontainers.image.description="read the version from the tag, validate it, write .version/.tags for later steps" \
      org.opencontainers.image.source="https://github.com/tagship/tagship" \
      org.opencontainers.image.documentation="https://github.com/tagship/tagship/blob/main/docs/plugins/version-bump.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="tagship" \
      org.opencontainers.image.version="${TAGSHIP_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}"

# starts as root and runs as the workspace's owner (see base.Dockerfile): root in Drone, your uid locally
USER root
ENTRYPOINT ["/usr/local/bin/tagship-as-workspace-owner", "/opt/tagship/bin/version-bump"]
