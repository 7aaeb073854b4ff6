# tagship/oss-push — publish static files to Aliyun OSS under a versioned prefix, with a manifest
# Only tagship[oss-push], installed from the host-built wheelhouse (build context: wheelhouse/; scripts/images.sh).
ARG TAGSHIP_BASE=tagship/base:latest
FROM ${TAGSHIP_BASE} AS build
RUN python3 -m venv /opt/tagship
# third-party dependencies first (a cached layer until pyproject changes), then tagship itself
COPY req/oss-push.txt /tmp/req.txt
COPY deps /tmp/wheels
RUN /opt/tagship/bin/pip install -q --no-index --find-links /tmp/wheels -r /tmp/req.txt
COPY wheels/oss-push /tmp/tagship
RUN /opt/tagship/bin/pip install -q --no-index --no-deps /tmp/tagship/tagship-*.whl \
 && find /opt/tagship -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/tagship/bin/python -c "import oss_push.__main__"

FROM ${TAGSHIP_BASE}
COPY --from=build /opt/tagship /opt/tagship

# labels last: their values change on every build and must not invalidate the layers above
ARG TAGSHIP_VERSION=0.0.0
ARG VCS_REF=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="tagship/oss-push" \
      org.opencontainers.image.description="publish static files to Aliyun OSS under a versioned prefix, with a manifest" \
      org.opencontainers.image.source="https://github.com/tagship/tagship" \
      org.opencontainers.image.documentation="https://github.com/tagship/tagship/blob/main/docs/plugins/oss-push.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="tagship" \
      org.opencontainers.image.version="${TAGSHIP_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}"

# starts as root and runs as the workspace's owner (see base.Dockerfile): root in Drone, your uid locally
USER root
ENTRYPOINT ["/usr/local/bin/tagship-as-workspace-owner", "/opt/tagship/bin/oss-push"]
