"""registry-push settings: drone-docker's names (and its Drone 0.8 secret aliases) plus tagship's additions.

The model is also the schema for ``--help``, the docs and lint. Cross-field checks name the env var.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, model_validator

from tagship.validators import AccessKey, ApiUrl, DockerHost, Region
from tagship.settings import Duration, JsonList, Kind, PluginSettings, StrList, StrMap, setting


def _build_args(value: Any) -> Any:
    """A JSON map (tagship: a value with commas stays whole), or drone-docker's list of ``KEY=VALUE`` — a JSON
    array, or the comma-joined string Drone makes of a YAML list."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        if text.startswith(("{", "[")):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"a JSON map (it does not parse: {exc.msg})") from None
        else:
            value = [item for item in text.split(",") if item.strip()]
    if isinstance(value, list):
        pairs = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"KEY=VALUE items or a JSON map, got {str(item)[:40]!r}")
            pairs[key.strip()] = val
        return pairs
    if isinstance(value, dict):
        return {str(k): v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list))
                else str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
    return value


BuildArgs = Annotated[dict[str, str], BeforeValidator(_build_args), Kind("map")]


class Target(BaseModel):
    """One more place the image goes (``registries:``): its own registry, repo and credentials."""

    model_config = ConfigDict(extra="forbid")

    registry: str = ""
    repo: str = ""
    username: str = ""
    password: SecretStr | None = None
    password_env: str = ""      # the name of an env var holding the password (Drone resolves from_secret
    #                             only for a whole setting, so a list entry names a variable from environment:)
    required: bool = True
    insecure: bool = False


class Settings(PluginSettings):
    # --- where the image goes
    registry: str = setting("", help="Registry host (e.g. registry.cn-hangzhou.aliyuncs.com), or `aliyun` for "
                            "the Aliyun preset (region/network/instance_id). Empty: taken from `repo`.",
                            aliases=["DOCKER_REGISTRY"])
    repo: str = setting("", help="Image repository, with or without the registry host "
                        "(registry.cn-hangzhou.aliyuncs.com/ly_ops/cmdb_api or ly_ops/cmdb_api).")
    project: str = setting("", help="Seed naming: with `module`, the repository name is <project>_<module>.")
    module: str = setting("", help="Seed naming: the module; also passed as build arg SERVICE_NAME.")
    namespace: str = setting("", help="Namespace put before <project>_<module> (e.g. ly_ops).")
    username: str = setting("", help="Registry user.", aliases=["DOCKER_USERNAME", "DOCKER_USER"])
    password: SecretStr | None = setting(None, help="Registry password or token.", aliases=["DOCKER_PASSWORD"])
    email: str = setting("", help="Accepted for drone-docker compatibility; unused.", aliases=["DOCKER_EMAIL"])
    registries: JsonList(Target) = setting([], help="More targets: a list of {registry, repo, username, "
                                           "password_env (an env var set from a secret in environment:), "
                                           "required, insecure}; `required: false` makes a failure a warning.",
                                           holds_secrets=True)
    insecure: bool = setting(False, help="The main registry has no valid TLS certificate (skip verification).")
    ca_cert: str = setting("", help="CA file for reading manifests back over HTTPS (default: "
                           "/etc/docker/certs.d/<registry>/ca.crt when present, else the system CAs).")
    # --- Aliyun preset
    region: Region = setting("", help="Aliyun region for `registry: aliyun` (e.g. cn-hangzhou).")
    network: Literal["public", "vpc"] = setting("public", help="Aliyun registry endpoint: public or vpc.")
    instance_id: str = setting("", help="Aliyun Container Registry Enterprise instance id (cri-…).")
    access_key_id: AccessKey | None = setting(None, help="Aliyun AccessKey id, exchanged for a temporary "
                                              "registry login.", aliases=["ALIYUN_ACCESS_KEY_ID"])
    access_key_secret: AccessKey | None = setting(None, help="Aliyun AccessKey secret.",
                                                  aliases=["ALIYUN_ACCESS_KEY_SECRET"])
    api_endpoint: ApiUrl = setting("", help="Container Registry API address (default https://cr.<region>.aliyuncs.com;"
                                " a VPC endpoint, a proxy, or the local double in tests).",
                               aliases=["PLUGIN_ALIYUN_API_ENDPOINT"])
    # --- tags
    tags: StrList = setting([], help="Tags to push; default: the `.tags` file, else `latest`.",
                            aliases=["PLUGIN_TAG"])
    tags_file: str = setting(".tags", help="File with comma- or newline-separated tags (version-bump writes it).")
    auto_tag: bool = setting(False, help="Tags from the git tag (X, X.Y, X.Y.Z) or `latest` on the default "
                             "branch; other refs build without pushing.", aliases=["PLUGIN_DEFAULT_TAGS"])
    auto_tag_suffix: str = setting("", help="Suffix for every auto tag (1.2-alpine).",
                                   aliases=["PLUGIN_DEFAULT_SUFFIX"])
    default_branch: str = setting("main", help="The branch whose pushes get `latest` with auto_tag.",
                                  aliases=["DRONE_REPO_BRANCH", "CI_REPO_DEFAULT_BRANCH"])
    floating_tags: Literal["smart", "always"] = setting(
        "smart", help="smart: move latest/X/X.Y only when this version is the highest released in its range "
        "(read from the registry's tag list); always: move them anyway.")
    defer_floating: bool = setting(False, help="Push only the version tags now and leave latest/X/X.Y for "
                                   "cs-deploy to move after a healthy deploy (recorded as `deferred` in "
                                   ".tagship/registry-push.json).")
    # --- build
    dockerfile: str = setting("Dockerfile", help="Dockerfile path, relative to the workspace.")
    context: str = setting(".", help="Build context, relative to the workspace.")
    target: str = setting("", help="Multi-stage build target.")
    build_args: BuildArgs = setting({}, help="Build args: a map (a value with commas stays whole), or "
                                    "drone-docker's list of KEY=VALUE.")
    build_args_from_env: StrList = setting([], help="Names of env vars passed as build args.")
    labels: StrMap = setting({}, help="Extra image labels.", aliases=["PLUGIN_CUSTOM_LABELS"])
    auto_label: bool = setting(True, help="Add OCI labels (created, revision, source, url, version).")
    cache_from: StrList = setting([], help="Images used as build cache (pulled first; a failed pull is ignored).")
    pull: bool = setting(False, help="Always pull the base image (drone-docker's pull_image).",
                         aliases=["PLUGIN_PULL_IMAGE"])
    no_cache: bool = setting(False, help="Build without the layer cache.")
    add_host: StrList = setting([], help="Extra /etc/hosts entries for the build (host:ip).")
    builder: Literal["auto", "buildkit", "classic"] = setting(
        "auto", help="auto: BuildKit when the engine and a docker CLI support it (else classic, with a notice); "
        "buildkit: fail when they do not; classic: the legacy builder through the engine API.")
    docker_cli: str = setting("", help="The docker CLI used for BuildKit builds (default: the first of docker "
                              "on PATH, /usr/bin/docker, /usr/local/bin/docker whose `DOCKER_BUILDKIT=1 docker "
                              "build --help` lists --secret and --ssh).")
    secrets: StrList = setting([], help="BuildKit build secrets for RUN --mount=type=secret: `id=NAME,env=VAR` "
                               "(the value of an env var, e.g. set from_secret) or `id=NAME,src=FILE` (a file in "
                               "the workspace). Proven to be in no layer, history, label or env.",
                               aliases=["PLUGIN_SECRET"])
    secrets_from_env: StrList = setting([], help="drone-docker's form: `id=VAR` items (a build secret from an "
                                        "env var).")
    secrets_from_file: StrList = setting([], help="drone-docker's form: `id=FILE` items (a build secret from a "
                                         "workspace file).")
    ssh_agent_key: SecretStr | None = setting(None, help="A private key (from a secret) loaded into a short-lived "
                                              "ssh-agent for RUN --mount=type=ssh (BuildKit's --ssh default); "
                                              "no line of it may end up in the image.")
    platform: str = setting("", help="BuildKit: the target platform (e.g. linux/amd64).")
    build_network: str = setting("", help="BuildKit: the network of RUN steps (default, host, none).")
    build_timeout: Duration = setting("1h", help="BuildKit: how long the build may take.")
    # --- engine
    daemon: Literal["host", "dind"] = setting("host", help="host: DOCKER_HOST or the mounted socket; dind: "
                                              "start dockerd in this container (needs privileged: true).")
    docker_host: DockerHost = setting("", help="Docker engine address (default DOCKER_HOST, else the local socket).")
    mirror: str = setting("", help="dind: registry mirror.", aliases=["DOCKER_PLUGIN_MIRROR"])
    storage_driver: str = setting("", help="dind: storage driver.")
    storage_path: str = setting("", help="dind: dockerd's data root — mount a volume there (default: a temporary "
                                "directory, removed afterwards).")
    mtu: str = setting("", help="dind: MTU of the default bridge.")
    dockerd_path: str = setting("dockerd", help="dind: the dockerd binary.")
    dockerd_args: StrList = setting([], help="dind: more dockerd flags (e.g. --bip=10.9.0.1/24, --dns=…).")
    daemon_timeout: Duration = setting("30s", help="dind: how long to wait for dockerd to answer.")
    # --- push and checks
    max_parallel: int = setting(3, help="Targets pushed at the same time.", ge=1, le=16)
    push_attempts: int = setting(4, help="Tries per push, first included (transient errors only).", ge=1, le=10)
    purge: bool = setting(True, help="Remove the registry-qualified local tags after the run.")
    policy: Literal["off", "warn", "enforce"] = setting("warn", help="Image policy: non-root user, no secrets "
                                                        "in layers/env/labels/history, no git clone/go get in the "
                                                        "Dockerfile; enforce fails before anything is pushed.")
    layout: Literal["none", "seed"] = setting("none", help="seed: also require /home/worker/main/{entrypoint.sh,"
                                              "main,conf/app.conf} and that entrypoint.")

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if (self.project or self.module) and self.repo:
            raise ValueError("PLUGIN_REPO: set either repo or project+module, not both")
        if bool(self.project) != bool(self.module):
            raise ValueError("PLUGIN_MODULE: project and module go together (<project>_<module>)")
        if not self.repo and not self.project and not self.registries:
            raise ValueError("PLUGIN_REPO: required (or project+module, or registries)")
        if self.registry == "aliyun" and not self.region:
            raise ValueError("PLUGIN_REGION: required with registry: aliyun (e.g. cn-hangzhou)")
        if self.access_key_id and not (self.access_key_secret and self.region):
            raise ValueError("PLUGIN_ACCESS_KEY_SECRET: an AccessKey needs access_key_secret and region too")
        if self.builder == "classic" and (self.secrets or self.secrets_from_env or self.secrets_from_file
                                          or self.ssh_agent_key):
            raise ValueError("PLUGIN_BUILDER: classic cannot pass build secrets or ssh_agent_key "
                             "(use builder: auto or buildkit)")
        from .buildplan import parse_secrets

        parse_secrets(self.secrets, self.secrets_from_env, self.secrets_from_file)
        for i, t in enumerate(self.registries):
            if not (t.repo or self.repo or self.project):
                raise ValueError(f"PLUGIN_REGISTRIES: entry {i} has no repo and there is no main repo")
        return self
