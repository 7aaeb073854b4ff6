"""Compose service → Engine API ``ServiceSpec`` (pure), the way ``docker stack deploy`` converts it
(docker/cli ``cli/compose/convert``): names scoped ``<stack>_<name>``, every object labelled
``com.docker.stack.namespace``, the image as written kept in ``com.docker.stack.image``.

We add ``com.tagship.spec-hash``: a hash of the spec we would submit, so an unchanged service is not updated
(and not restarted) when nothing in the file or the pinned digest changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from pathlib import Path

from . import swarm_convert as convert
from .backend import ServiceWant
from .plan import env_map, split_ref
from .swarm_objects import Obj
from .units import duration_ns

NAMESPACE = "com.docker.stack.namespace"
IMAGE_LABEL = "com.docker.stack.image"
HASH_LABEL = "com.tagship.spec-hash"

# docker/cli cli/compose/loader: UnsupportedProperties ("Ignoring unsupported options: ...") and
# DeprecatedProperties ("Ignoring deprecated options: ..."); ``restart`` is warned about and still converted
UNSUPPORTED = ("build", "cgroupns_mode", "cgroup_parent", "devices", "domainname", "external_links", "ipc", "links",
               "mac_address", "network_mode", "pid", "privileged", "restart", "security_opt", "shm_size",
               "userns_mode")
DEPRECATED = {"container_name": "Setting the container name is not supported.",
              "expose": "Exposing ports is unnecessary - services on the same network can access each other's "
                        "containers on any port."}
# keys docker drops without a word; we say so once
SILENT = ("depends_on", "tmpfs", "profiles", "pull_policy", "scale", "volumes_from",
          "mem_limit", "mem_reservation", "cpus", "cpu_shares", "cpu_quota", "cpuset", "oom_score_adj",
          "storage_opt", "platform", "annotations")


def ns(value: Any) -> int:
    return duration_ns(value)


def content_name(stack: str, name: str, data: bytes) -> str:
    """Configs and secrets are immutable in swarm: a new content gets a new name (``<stack>_<name>_<sha8>``)."""
    return f"{stack}_{name}_{hashlib.sha256(data).hexdigest()[:8]}"[:64]


def spec_hash(spec: Mapping[str, Any]) -> str:
    clean = json.loads(json.dumps(spec, sort_keys=True))
    clean.get("Labels", {}).pop(HASH_LABEL, None)
    container = clean.get("TaskTemplate", {}).get("ContainerSpec", {})
    for ref in container.get("Configs", []) + container.get("Secrets", []):
        ref.pop("ConfigID", None)
        ref.pop("SecretID", None)   # ids are filled in at apply time; names carry the content hash
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:16]


def _labels(value: Any) -> dict[str, str]:
    return env_map(value)


def _command(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    import shlex

    return shlex.split(str(value))


def _update_config(cfg: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not cfg:
        return None
    out: dict[str, Any] = {"Parallelism": int(cfg.get("parallelism", 1))}  # docker/cli's default
    if "delay" in cfg:
        out["Delay"] = ns(cfg["delay"])
    if "failure_action" in cfg:
        out["FailureAction"] = cfg["failure_action"]
    if "monitor" in cfg:
        out["Monitor"] = ns(cfg["monitor"])
    if "max_failure_ratio" in cfg:
        out["MaxFailureRatio"] = float(cfg["max_failure_ratio"])
    if "order" in cfg:
        out["Order"] = cfg["order"]
    return out


def _healthcheck(hc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not hc:
        return None
    if hc.get("disable"):
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {}
    test = hc.get("test")
    if isinstance(test, str):
        out["Test"] = ["CMD-SHELL", test]
    elif test:
        out["Test"] = [str(t) for t in test]
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                     ("start_interval", "StartInterval")):
        if key in hc:
            out[api] = ns(hc[key])
    if "retries" in hc:
        out["Retries"] = int(hc["retries"])
    return out


def _refs(items: Any, created: Mapping[str, tuple[str, str]], kind: str) -> list[dict[str, Any]]:
    """Service ``configs:``/``secrets:`` → refs to the (content-hashed) objects ``created`` maps to (id, name)."""
    out = []
    for item in items or []:
        src = item if isinstance(item, str) else item["source"]
        if src not in created:
            raise ValueError(f"{kind} {src!r} is not defined at the top level")
        obj_id, obj_name = created[src]
        target = src if isinstance(item, str) else item.get("target", src)
        path = target
        mode = 0o444 if isinstance(item, str) or item.get("mode") is None else int(item["mode"])
        ref = {"File": {"Name": path, "UID": str((item if isinstance(item, dict) else {}).get("uid", "0")),
                        "GID": str((item if isinstance(item, dict) else {}).get("gid", "0")), "Mode": mode}}
        ref["ConfigID" if kind == "config" else "SecretID"] = obj_id
        ref["ConfigName" if kind == "config" else "SecretName"] = obj_name
        out.append(ref)
    return out


def service_spec(stack: str, want: ServiceWant, objs: Mapping[str, Mapping[str, Obj]],
                 configs: Mapping[str, tuple[str, str]], secrets: Mapping[str, tuple[str, str]],
                 base: Path = Path(".")) -> dict[str, Any]:
    """The ServiceSpec to submit. ``objs`` is swarm_objects.table (names of networks/volumes); ``base`` is the
    compose file's folder (relative bind sources are resolved against it, as docker does)."""
    svc = want.config
    deploy = svc.get("deploy") or {}
    container: dict[str, Any] = {
        "Image": want.image,
        "Labels": {**_labels(svc.get("labels")), NAMESPACE: stack},
    }
    if want.env:
        container["Env"] = sorted(f"{k}={v}" for k, v in want.env.items())
    if svc.get("entrypoint") is not None:
        container["Command"] = _command(svc["entrypoint"])
    if svc.get("command") is not None:
        container["Args"] = _command(svc["command"])
    for key, api in (("working_dir", "Dir"), ("user", "User"), ("hostname", "Hostname")):
        if svc.get(key):
            container[api] = str(svc[key])
    if svc.get("stop_grace_period") is not None:
        container["StopGracePeriod"] = duration_ns(svc["stop_grace_period"])
    if svc.get("read_only"):
        container["ReadOnly"] = True
    if svc.get("init"):
        container["Init"] = True
    hc = _healthcheck(svc.get("healthcheck"))
    if hc:
        container["Healthcheck"] = hc
    mounts = convert.mounts(svc.get("volumes"), stack, objs["volumes"], base)
    if mounts:
        container["Mounts"] = mounts
    if svc.get("extra_hosts"):
        hosts = svc["extra_hosts"]
        items = hosts.items() if isinstance(hosts, dict) else (h.split(":", 1) for h in hosts)
        container["Hosts"] = [f"{ip} {host}" for host, ip in items]
    if svc.get("configs"):
        container["Configs"] = _refs(svc["configs"], configs, "config")
    if svc.get("secrets"):
        container["Secrets"] = _refs(svc["secrets"], secrets, "secret")
    container.update(convert.container_extras(svc))
    container["Privileges"] = {"CredentialSpec": None, "SELinuxContext": None}   # docker/cli sends it empty

    task: dict[str, Any] = {"ContainerSpec": container, "ForceUpdate": 0,
                            "Placement": convert.placement(deploy) or {}, "Resources": convert.resources(deploy) or {}}
    for key, value in (("RestartPolicy", convert.restart_policy(svc, deploy)), ("LogDriver", convert.logging(svc))):
        if value:
            task[key] = value
    task["Networks"] = convert.networks(want.name, svc, objs["networks"])

    mode = convert.mode(deploy)
    ports = sorted(convert.ports(svc.get("ports")),
                   key=lambda p: (p["TargetPort"], p["Protocol"], p.get("PublishedPort", 0)))
    spec: dict[str, Any] = {
        "Name": f"{stack}_{want.name}",
        "Labels": {**_labels(deploy.get("labels")), NAMESPACE: stack, IMAGE_LABEL: want.image_ref},
        "TaskTemplate": task,
        "Mode": mode,
        "EndpointSpec": {"Mode": deploy.get("endpoint_mode") or "vip", "Ports": ports},
    }
    if not convert.is_job(mode):     # the engine refuses an update config for jobs
        update = _update_config(deploy.get("update_config"))
        if update:
            spec["UpdateConfig"] = update
        rollback = _update_config(deploy.get("rollback_config"))
        if rollback:
            spec["RollbackConfig"] = rollback
    spec["Labels"][HASH_LABEL] = spec_hash(spec)
    return spec


_UPDATE_KEYS = {"Parallelism": "parallelism", "Delay": "delay", "FailureAction": "failure_action",
                "Monitor": "monitor", "MaxFailureRatio": "max_failure_ratio", "Order": "order"}


def _update_view(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Engine UpdateConfig → the compose-like view of the diff; a 0 failure ratio is the default, not shown."""
    view = {}
    for api, key in _UPDATE_KEYS.items():
        if api in cfg and not (api == "MaxFailureRatio" and not cfg[api]):
            view[key] = f"{cfg[api] / 1e9:g}s" if api in ("Delay", "Monitor") else cfg[api]
    return view


def current_view(name: str, spec: Mapping[str, Any]) -> ServiceWant:
    """A running service's spec in the diff's shape (image, env, replicas, update_config, ports)."""
    container = spec.get("TaskTemplate", {}).get("ContainerSpec", {})
    mode = spec.get("Mode", {})
    replicas = (mode["Replicated"].get("Replicas", 1) if "Replicated" in mode else
                mode["ReplicatedJob"].get("TotalCompletions", 1) if "ReplicatedJob" in mode else None)
    update = _update_view(spec.get("UpdateConfig") or {})
    ports = []
    for p in (spec.get("EndpointSpec") or {}).get("Ports") or []:
        proto = p.get("Protocol", "tcp")
        ports.append(f"{p['PublishedPort']}:{p['TargetPort']}/{proto}" if p.get("PublishedPort")
                     else f"{p['TargetPort']}/{proto}")
    return ServiceWant(name=name, image=container.get("Image", ""),
                       image_ref=(spec.get("Labels") or {}).get(IMAGE_LABEL, ""),
                       env=env_map(container.get("Env")), replicas=replicas, update_config=update,
                       ports=sorted(ports), config={})


def want_update_view(want: ServiceWant) -> dict[str, Any]:
    """The compose update_config in the same shape as :func:`current_view` shows it."""
    return _update_view(_update_config(want.update_config) or {})


def registry_of(image: str) -> str:
    repo = split_ref(image)[0]
    first = repo.split("/", 1)[0]
    if "/" in repo and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"
