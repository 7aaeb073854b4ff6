"""cs-deploy settings: the model behind ``--help``, the docs and lint.

One input (a compose file + ``environment``), two backends (``swarm``: Docker swarm mode through the Engine
API; ``aliyun-cs``: the legacy Aliyun Container Service swarm edition). The seed's deploy step
(``ALIYUN_ACCESS_KEY_ID``, ``ALIYUN_ACCESS_KEY_SECRET``, ``REGION``, ``CLUSTER_ID``, ``PROJECT_NAME``,
``VERSION``) ports unchanged: those names are aliases. Its application variables (``PGCRYPTO_DEFAULT_KEY``…)
were plain env vars of the step; ``env_from`` lists such step variables to take into ``environment`` (Drone
resolves ``from_secret`` only at the top level of a step's ``environment:``/``settings:``, never inside a map).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import SecretStr, model_validator

from tagship.settings import Duration, PluginSettings, StrList, StrMap, setting
from tagship.validators import AccessKey, ApiUrl, DockerHost, PemOrFile, Region

# a name that holds a secret: its value is masked wherever it is shown (env values, diffs, the rendered file)
SECRET_NAME = re.compile(r"(PASS|SECRET|TOKEN|(^|_)KEY($|_)|PRIVATE|CREDENTIAL|AUTH|_PW($|_)|DSN)", re.I)

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$")


def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


class Settings(PluginSettings):
    # what to deploy
    backend: Literal["swarm", "aliyun-cs"] = setting(
        "swarm", help="Where to deploy: swarm (Docker swarm mode, Engine API) or aliyun-cs (legacy Aliyun "
                      "Container Service, swarm edition).", aliases=["PLUGIN_TARGET"])
    compose_file: str = setting("docker-compose.yml", help="The compose file (v3, with deploy:), relative to "
                                "the workspace.", aliases=["PLUGIN_COMPOSE"])
    stack: str = setting(help="The stack (swarm) or project (aliyun-cs) name.",
                         aliases=["PLUGIN_PROJECT_NAME", "PLUGIN_STACK_NAME", "PROJECT_NAME"])
    environment: StrMap = setting({}, help="Variables for ${VAR} substitution in the compose file (and the "
                                  "aliyun-cs project environment). Values of secret-looking names are masked.")
    env_from: StrList = setting([], help="Names of the step's own environment variables to take into "
                                "environment (ports the seed's `environment: [PGCRYPTO_DEFAULT_KEY=…]` "
                                "unchanged; use from_secret there). Secret-looking names are masked.",
                                example=["PGCRYPTO_DEFAULT_KEY", "VERSION"])
    version: str | None = setting(None, help="The release version: ${VERSION} in the compose file unless "
                                  "environment sets it; the aliyun-cs project version (must change on "
                                  "every update). Default: the tag without a leading v.", aliases=["VERSION"])

    # aliyun-cs
    access_key_id: AccessKey | None = setting(None, help="Aliyun AccessKey ID (aliyun-cs).",
                                              aliases=["ALIYUN_ACCESS_KEY_ID"])
    access_key_secret: AccessKey | None = setting(None, help="Aliyun AccessKey secret (aliyun-cs).",
                                                  aliases=["ALIYUN_ACCESS_KEY_SECRET"])
    region: Region | None = setting(None, help="Aliyun region, e.g. cn-shanghai (aliyun-cs).", aliases=["REGION"])
    cluster_id: str | None = setting(None, help="Container Service cluster ID (aliyun-cs).",
                                     aliases=["CLUSTER_ID"])
    update_method: Literal["rolling", "blue-green"] = setting(
        "rolling", help="aliyun-cs update method; blue-green is gated, then confirmed (or rolled back).")
    api_endpoint: ApiUrl | None = setting(None, help="Override the Aliyun OpenAPI address "
                                       "(default https://cs.<region>.aliyuncs.com).")

    # swarm
    docker_host: DockerHost | None = setting(None, help="Docker Engine of a swarm manager, e.g. tcp://mgr:2376 "
                                      "(default: the local socket / DOCKER_HOST).", aliases=["PLUGIN_HOST"])
    tls_ca: PemOrFile | None = setting(None, help="CA certificate (PEM text or a file path) to verify the "
                                       "engine (swarm).", aliases=["PLUGIN_DOCKER_CACERT"])
    tls_cert: PemOrFile | None = setting(None, help="Client certificate (PEM text or a file path) (swarm).",
                                         aliases=["PLUGIN_DOCKER_CERT"])
    tls_key: PemOrFile | None = setting(None, help="Client key (PEM text or a file path) (swarm).",
                                        aliases=["PLUGIN_DOCKER_KEY"])
    registry_username: str | None = setting(None, help="Registry user, forwarded to the swarm so nodes can "
                                            "pull private images.", aliases=["PLUGIN_DOCKER_USERNAME"])
    registry_password: SecretStr | None = setting(None, help="Registry password (forwarded, never shown).",
                                                  aliases=["PLUGIN_DOCKER_PASSWORD"])
    registry_ca_cert: str = setting("", help="CA file for the registry when moving tags registry-push deferred "
                                    "(defer_floating) (default: /etc/docker/certs.d/<registry>/ca.crt when "
                                    "present, else the system CAs).")
    allow_floating: bool = setting(False, help="Allow deploying a floating tag (latest or none) that cannot "
                                   "be pinned to a digest.")
    prune: bool = setting(False, help="Remove services of the stack that the compose file no longer has.")

    # waiting, gating, failure
    timeout: Duration = setting("10m", help="Budget for the rollout to converge (and the health gate).")
    rollback_timeout: Duration = setting("5m", help="A separate budget for the automatic rollback.")
    poll_interval: Duration = setting("2s", help="How often to poll the cluster while waiting.")
    monitor: Duration = setting("5s", help="Stability window: converged services must stay so this long.")
    rollback: Literal["auto", "off"] = setting(
        "auto", help="On a failed rollout, put every service touched by this run back to its previous spec "
                     "(the step still fails).")
    health_url: str | None = setting(None, help="HTTP(S) URL checked after convergence; the deploy fails if it "
                                     "does not answer as expected.")
    health_status: int = setting(200, help="Expected HTTP status of health_url.")
    health_body: str | None = setting(None, help="Regex the health_url body must match.")
    health_retries: int = setting(10, help="Tries of health_url before the gate fails.", ge=1)
    health_interval: Duration = setting("2s", help="Pause between health_url tries.")

    # review and policy
    fail_on_diff: bool = setting(False, help="Review mode: plan only (as dry_run) and exit 1 when the "
                                 "deployment would change something (review pipelines).")
    lint: Literal["off", "warn", "enforce"] = setting(
        "warn", help="Compose lint from the seed's pitfalls: warn, or enforce (a finding fails with exit 2).")
    production: bool = setting(False, help="A production deploy: aliyun.* extension labels are lint findings.")
    preflight: Literal["off", "warn", "enforce"] = setting(
        "warn", help="Swarm cluster checks before any change: nodes not ready/active, duplicate hostnames, "
                     "differing engine versions, images the nodes cannot pull — warn, or enforce (a finding "
                     "fails the step). Managers without quorum fail the step even under warn.")

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if not _NAME.match(self.stack):
            raise ValueError(f"PLUGIN_STACK: {self.stack!r} is not a valid stack/project name "
                             "(letters, digits, - _ . ; at most 64; no leading - )")
        if self.backend == "aliyun-cs":
            missing = [env for env, value in (
                ("PLUGIN_ACCESS_KEY_ID", self.access_key_id), ("PLUGIN_ACCESS_KEY_SECRET", self.access_key_secret),
                ("PLUGIN_REGION", self.region), ("PLUGIN_CLUSTER_ID", self.cluster_id)) if not value]
            if missing:
                raise ValueError(f"{missing[0]}: required with backend aliyun-cs, not set")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("PLUGIN_TLS_CERT: tls_cert and tls_key go together")
        if self.registry_password and not self.registry_username:
            raise ValueError("PLUGIN_REGISTRY_USERNAME: required with registry_password")
        if self.poll_interval <= 0:
            raise ValueError("PLUGIN_POLL_INTERVAL: must be more than 0")
        if self.timeout <= 0:
            raise ValueError("PLUGIN_TIMEOUT: must be more than 0")
        return self
