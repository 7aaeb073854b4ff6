"""The keys ``docker stack deploy`` accepts (docker/cli's v3 schema, latest version, which a version-less file
gets): a file it refuses gets exit 2 from cs-deploy too, naming the key, instead of being deployed with the
key dropped. The compose-spec schema (render.validate) checks the shapes; this adds docker's narrower key sets.
Pure; applied by the swarm backend only (aliyun-cs has its own template rules)."""

from __future__ import annotations

from typing import Any, Mapping

TOP = {"version", "services", "networks", "volumes", "secrets", "configs"}
SERVICE = {
    "deploy", "build", "cap_add", "cap_drop", "cgroupns_mode", "cgroup_parent", "command", "configs",
    "container_name", "credential_spec", "depends_on", "devices", "dns", "dns_search", "domainname", "entrypoint",
    "env_file", "environment", "expose", "external_links", "extra_hosts", "group_add", "healthcheck", "hostname",
    "image", "init", "ipc", "isolation", "labels", "links", "logging", "mac_address", "network_mode", "networks",
    "pid", "ports", "privileged", "read_only", "restart", "security_opt", "shm_size", "secrets", "sysctls",
    "stdin_open", "stop_grace_period", "stop_signal", "tmpfs", "tty", "ulimits", "oom_score_adj", "user",
    "userns_mode", "volumes", "working_dir"}
DEPLOY = {"mode", "endpoint_mode", "replicas", "labels", "rollback_config", "update_config", "resources",
          "restart_policy", "placement"}
HEALTHCHECK = {"disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"}
NETWORK = {"name", "driver", "driver_opts", "ipam", "external", "internal", "attachable", "labels"}
VOLUME = {"name", "driver", "driver_opts", "external", "labels"}
OBJECT = {"name", "file", "external", "labels", "driver", "driver_opts", "template_driver"}


def _extra(value: Any, allowed: set[str], where: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    return [f"{where}: {key!r} is not allowed (docker stack deploy's schema refuses it)"
            for key in value if str(key) not in allowed and not str(key).startswith("x-")]


def problems(compose: Mapping[str, Any]) -> list[str]:
    out = _extra(compose, TOP, "(top level)")
    version = compose.get("version")
    if version is not None and not str(version).startswith("3"):
        out.append(f"version: {version!r} is not a v3 compose file (docker stack deploy takes 3.x or no version)")
    for name, svc in (compose.get("services") or {}).items():
        where = f"services.{name}"
        out += _extra(svc, SERVICE, where)
        svc = svc if isinstance(svc, dict) else {}
        out += _extra(svc.get("deploy"), DEPLOY, f"{where}.deploy")
        out += _extra(svc.get("healthcheck"), HEALTHCHECK, f"{where}.healthcheck")
        if "depends_on" in svc and not isinstance(svc["depends_on"], list):
            out.append(f"{where}.depends_on: must be a list of service names for docker stack deploy")
        files = svc.get("env_file")
        if isinstance(files, list) and any(not isinstance(f, str) for f in files) or isinstance(files, dict):
            out.append(f"{where}.env_file: must be a path or a list of paths for docker stack deploy")
    for kind, allowed in (("networks", NETWORK), ("volumes", VOLUME), ("configs", OBJECT), ("secrets", OBJECT)):
        for key, cfg in (compose.get(kind) or {}).items():
            out += _extra(cfg, allowed, f"{kind}.{key}")
    return out
