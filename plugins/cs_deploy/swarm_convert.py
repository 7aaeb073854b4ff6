"""The parts of a compose service docker/cli's ``cli/compose/convert/service.go`` and ``volume.go`` turn into
a ServiceSpec beyond the basics in swarm_spec: mounts, networks, mode (incl. jobs), restart policy, resources,
placement, logging, and the container options (caps, sysctls, ulimits, dns, tty, stdin, stop signal).
Pure; a bad value raises ValueError naming the key (the caller makes it exit 2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from .swarm_objects import NOT_USER_DEFINED, Obj, service_networks
from .units import duration_ns, nano_cpus, port_range, ram_bytes

NAMESPACE = "com.docker.stack.namespace"


def _bind_source(src: str, base: Path) -> str:
    if src.startswith("~"):
        src = os.path.expanduser(src)
    path = Path(src)
    return str(path if path.is_absolute() else (base / path).resolve())


def _short_volume(text: str) -> dict[str, Any]:
    parts = str(text).split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    src, target = parts[0], parts[1]
    opts = parts[2].split(",") if len(parts) > 2 else []
    kind = "bind" if src.startswith(("/", ".", "~")) else "volume"
    vol: dict[str, Any] = {"type": kind, "source": src, "target": target, "read_only": "ro" in opts}
    prop = [o for o in opts if o in ("shared", "rshared", "slave", "rslave", "private", "rprivate")]
    if prop:
        vol["bind"] = {"propagation": prop[0]}
    if "nocopy" in opts:
        vol["volume"] = {"nocopy": True}
    return vol


def mounts(volumes: Any, stack: str, objs: Mapping[str, Obj], base: Path) -> list[dict[str, Any]]:
    out = []
    for vol in volumes or []:
        vol = dict(vol) if isinstance(vol, dict) else _short_volume(vol)
        kind, target, src = vol.get("type", "volume"), vol.get("target"), vol.get("source")
        if not target:
            raise ValueError("volumes: a mount needs a target")
        mount: dict[str, Any] = {"Type": kind, "Target": str(target)}
        if vol.get("read_only"):
            mount["ReadOnly"] = True
        if kind == "bind":
            if not src:
                raise ValueError(f"volumes: the bind mount {target} needs a source")
            mount["Source"] = _bind_source(str(src), base)
            prop = (vol.get("bind") or {}).get("propagation")
            if prop:
                mount["BindOptions"] = {"Propagation": prop}
        elif kind == "tmpfs":
            tmpfs = vol.get("tmpfs") or {}
            if tmpfs.get("size") is not None:
                mount["TmpfsOptions"] = {"SizeBytes": ram_bytes(tmpfs["size"])}
        elif kind == "volume":
            if src:
                obj = objs.get(str(src))
                if obj is None:
                    raise ValueError(f"volumes: volume {src!r} is not declared under volumes:")
                mount["Source"] = obj.name
                options: dict[str, Any] = {}
                if (vol.get("volume") or {}).get("nocopy"):
                    options["NoCopy"] = True
                if not obj.external:
                    options["Labels"] = {**{str(k): str(v) for k, v in _map(obj.cfg.get("labels")).items()},
                                         NAMESPACE: stack}
                    if obj.cfg.get("driver") or obj.cfg.get("driver_opts"):
                        options["DriverConfig"] = {"Name": obj.cfg.get("driver") or "",
                                                   "Options": {str(k): str(v) for k, v in
                                                               (obj.cfg.get("driver_opts") or {}).items()}}
                mount["VolumeOptions"] = options
            elif (vol.get("volume") or {}).get("nocopy"):
                mount["VolumeOptions"] = {"NoCopy": True}
        else:
            raise ValueError(f"volumes: mount type {kind!r} is not supported by swarm (bind, volume or tmpfs)")
        out.append(mount)
    return out


def _map(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    out = {}
    for item in value or []:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


def networks(name: str, svc: Mapping[str, Any], objs: Mapping[str, Obj]) -> list[dict[str, Any]]:
    out = []
    for key, cfg in service_networks(svc).items():
        obj = objs.get(key)
        if obj is None:
            raise ValueError(f"networks: network {key!r} is not declared under networks:")
        att: dict[str, Any] = {"Target": obj.name}
        aliases = [str(a) for a in cfg.get("aliases") or []]
        if obj.name not in NOT_USER_DEFINED and not obj.name.startswith("container:"):
            aliases.append(name)
        if aliases:
            att["Aliases"] = aliases
        if cfg.get("driver_opts"):
            att["DriverOpts"] = {str(k): str(v) for k, v in cfg["driver_opts"].items()}
        out.append(att)
    return sorted(out, key=lambda a: a["Target"])


def mode(deploy: Mapping[str, Any]) -> dict[str, Any]:
    kind = deploy.get("mode") or "replicated"
    replicas = deploy.get("replicas")
    if kind == "global":
        if replicas is not None:
            raise ValueError("deploy.replicas: only with mode replicated or replicated-job")
        return {"Global": {}}
    if kind == "global-job":
        if replicas is not None:
            raise ValueError("deploy.replicas: only with mode replicated or replicated-job")
        return {"GlobalJob": {}}
    if kind == "replicated-job":
        job: dict[str, Any] = {}
        if replicas is not None:
            job = {"MaxConcurrent": int(replicas), "TotalCompletions": int(replicas)}
        return {"ReplicatedJob": job}
    if kind == "replicated":
        return {"Replicated": {"Replicas": 1 if replicas is None else int(replicas)}}
    raise ValueError(f"deploy.mode: {kind!r} is not global, replicated, global-job or replicated-job")


def is_job(spec_mode: Mapping[str, Any]) -> bool:
    return "ReplicatedJob" in spec_mode or "GlobalJob" in spec_mode


def restart_policy(svc: Mapping[str, Any], deploy: Mapping[str, Any]) -> dict[str, Any] | None:
    """deploy.restart_policy, else the container ``restart:`` as docker/cli's convertRestartPolicy maps it."""
    policy = deploy.get("restart_policy")
    if policy:
        out: dict[str, Any] = {}
        if policy.get("condition"):
            out["Condition"] = policy["condition"]
        if policy.get("delay") is not None:
            out["Delay"] = duration_ns(policy["delay"])
        if policy.get("max_attempts") is not None:
            out["MaxAttempts"] = int(policy["max_attempts"])
        if policy.get("window") is not None:
            out["Window"] = duration_ns(policy["window"])
        return out
    restart = svc.get("restart")
    if not restart:
        return None
    name, _, count = str(restart).partition(":")
    if name == "no":
        return {"Condition": "none"}
    if name in ("always", "unless-stopped"):
        return {"Condition": "any"}
    if name == "on-failure":
        out = {"Condition": "on-failure"}
        if count:
            out["MaxAttempts"] = int(count)
        return out
    raise ValueError(f"restart: {restart!r} is not no, always, unless-stopped or on-failure[:N]")


def _res(block: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, api, conv in (("cpus", "NanoCPUs", nano_cpus), ("memory", "MemoryBytes", ram_bytes),
                           ("pids", "Pids", int)):
        if (block or {}).get(key) is not None:
            out[api] = conv(block[key])
    generic = []
    for dev in (block or {}).get("generic_resources") or []:
        spec = dev.get("discrete_resource_spec") or {}
        generic.append({"DiscreteResourceSpec": {"Kind": spec.get("kind"), "Value": int(spec.get("value", 0))}})
    if generic:
        out["GenericResources"] = generic
    return out


def resources(deploy: Mapping[str, Any]) -> dict[str, Any] | None:
    res = deploy.get("resources") or {}
    out = {}
    limits, reservations = _res(res.get("limits")), _res(res.get("reservations"))
    limits.pop("GenericResources", None)
    reservations.pop("Pids", None)
    if limits:
        out["Limits"] = limits
    if reservations:
        out["Reservations"] = reservations
    return out or None


def placement(deploy: Mapping[str, Any]) -> dict[str, Any] | None:
    p = deploy.get("placement") or {}
    out: dict[str, Any] = {}
    if p.get("constraints"):
        out["Constraints"] = [str(c) for c in p["constraints"]]
    if p.get("preferences"):
        out["Preferences"] = [{"Spread": {"SpreadDescriptor": str(pref.get("spread"))}} for pref in p["preferences"]]
    if p.get("max_replicas_per_node") is not None:
        out["MaxReplicas"] = int(p["max_replicas_per_node"])
    return out or None


def logging(svc: Mapping[str, Any]) -> dict[str, Any] | None:
    cfg = svc.get("logging") or {}
    if not cfg:
        return None
    out: dict[str, Any] = {"Name": str(cfg.get("driver") or "")}
    if cfg.get("options"):
        out["Options"] = {str(k): str(v) for k, v in cfg["options"].items()}
    return out


def _caps(values: Any) -> list[str]:
    out = []
    for cap in values or []:
        cap = str(cap).upper()
        out.append(cap if cap == "ALL" or cap.startswith("CAP_") else f"CAP_{cap}")
    return out


def _str_list(value: Any) -> list[str]:
    return [str(value)] if isinstance(value, str) else [str(v) for v in value or []]


def container_extras(svc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if svc.get("stop_signal"):
        out["StopSignal"] = str(svc["stop_signal"])
    if svc.get("tty"):
        out["TTY"] = True
    if svc.get("stdin_open"):
        out["OpenStdin"] = True
    dns = {k: v for k, v in (("Nameservers", _str_list(svc.get("dns"))), ("Search", _str_list(svc.get("dns_search"))),
                             ("Options", _str_list(svc.get("dns_opt")))) if v}
    if dns:
        out["DNSConfig"] = dns
    if svc.get("sysctls"):
        out["Sysctls"] = {str(k): str(v) for k, v in _map(svc["sysctls"]).items()}
    if svc.get("cap_add"):
        out["CapabilityAdd"] = _caps(svc["cap_add"])
    if svc.get("cap_drop"):
        out["CapabilityDrop"] = _caps(svc["cap_drop"])
    ulimits = []
    for name, lim in sorted((svc.get("ulimits") or {}).items()):
        if isinstance(lim, dict):
            ulimits.append({"Name": str(name), "Hard": int(lim.get("hard", 0)), "Soft": int(lim.get("soft", 0))})
        else:
            ulimits.append({"Name": str(name), "Hard": int(lim), "Soft": int(lim)})
    if ulimits:
        out["Ulimits"] = ulimits
    if svc.get("groups") or svc.get("group_add"):
        out["Groups"] = _str_list(svc.get("groups") or svc.get("group_add"))
    if svc.get("isolation"):
        out["Isolation"] = str(svc["isolation"])
    return out


def ports(value: Any) -> list[dict[str, Any]]:
    """Short and long port syntax, ranges expanded pairwise (docker's nat.ParsePortSpecs)."""
    out = []
    for port in value or []:
        if isinstance(port, dict):
            item = {"Protocol": port.get("protocol") or "tcp", "TargetPort": int(port["target"]),
                    "PublishMode": port.get("mode") or "ingress"}
            if port.get("published") not in (None, ""):
                item["PublishedPort"] = int(str(port["published"]).split("-")[0])
            out.append(item)
            continue
        text, _, proto = str(port).partition("/")
        parts = text.rsplit(":", 2)[-2:] if ":" in text else [text]
        target = port_range(parts[-1])
        published = port_range(parts[0]) if len(parts) == 2 and parts[0] else None
        count = target[1] - target[0] + 1
        if published and published[1] - published[0] + 1 != count and published[0] != published[1]:
            raise ValueError(f"ports: {port!r}: the published and target ranges differ in size")
        for i in range(count):
            item = {"Protocol": proto or "tcp", "TargetPort": target[0] + i, "PublishMode": "ingress"}
            if published:
                item["PublishedPort"] = published[0] + (i if published[0] != published[1] else 0)
            out.append(item)
    return out
