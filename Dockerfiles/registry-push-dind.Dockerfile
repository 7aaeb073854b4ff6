# tagship/registry-push-dind — registry-push with its own Docker engine, for `daemon: dind` (runners without a
# host socket to share). Root and `privileged: true` on the step: dockerd needs both. Debian's docker.io over
# the plain-HTTP mirror. Not built by default: bash scripts/images.sh registry-push-dind
ARG TAGSHIP_BASE=tagship/registry-push:latest
FROM ${TAGSHIP_BASE}
USER root
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
ENV PLUGIN_DAEMON=dind
LABEL org.opencontainers.image.title="tagship/registry-push-dind" \
      org.opencontainers.image.description="registry-push with its own dockerd (daemon: dind; privileged step)"
ENTRYPOINT ["/opt/tagship/bin/registry-push"]
