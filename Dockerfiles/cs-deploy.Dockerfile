# tagship/cs-deploy — deploy a compose project to swarm mode or Aliyun Container Service, roll back on failure
# Only tagship[cs-deploy], installed from the host-built wheelhouse (build context: wheelhouse/; scripts/images.sh).
ARG TAGSHIP_BASE=tagship/base:latest
FROM ${TAGSHIP_BASE} AS build
RUN python3 -m venv /opt/tagship
# third-party dependencies first (a cached layer until pyproject changes), then tagship itself
COPY req/cs-deploy.txt /tmp/req.txt
COPY deps /tmp/wheels
RUN /opt/tagship/bin/pip install -q --no-index --find-links /tmp/wheels -r /tmp/req.txt
COPY wheels/cs-deploy /tmp/tagship
RUN /opt/tagship/bin/pip install -q --no-index --no-deps /tmp/tagship/tagship-*.whl \
 && find /opt/tagship -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/tagship/bin/python -c "import cs_deploy.__main__"

FROM ${TAGSHIP_BASE}
# Runs as root: the swarm backend talks to the Docker engine through the mounted socket (root-equivalent);
# the aliyun-cs backend needs no socket and works as any user.
COPY --from=build /opt/tagship /opt/tagship

# labels last: their values change on every build and must not invalidate the layers above
ARG TAGSHIP_VERSION=0.0.0
ARG VCS_REF=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="tagship/cs-deploy" \
      org.opencontainers.image.description="deploy a compose project to swarm mode or Aliyun Container Service, roll back on failure" \
      org.opencontainers.image.source="https://github.com/tagship/tagship" \
      org.opencontainers.image.documentation="https://github.com/tagship/tagship/blob/main/docs/plugins/cs-deploy.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="tagship" \
      org.opencontainers.image.version="${TAGSHIP_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}"

USER root
ENTRYPOINT ["/opt/tagship/bin/cs-deploy"]
