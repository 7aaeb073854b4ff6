"""Top-level networks, volumes, configs and secrets → the swarm objects a service uses, named as docker/cli's
``cli/compose/convert`` names them (``namespace.Scope`` and the loader's external-name rule):

- ``external: true`` → the object's ``name:`` or its key, never prefixed, never created by us;
- ``name: X`` → exactly ``X`` (a named volume keeps its data across stacks and redeploys);
- otherwise ``<stack>_<key>`` (configs/secrets: content-named, see swarm_spec.content_name).

Pure: ``table`` builds the names, ``undeclared`` lists what services use but the file does not declare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

KINDS = ("networks", "volumes", "configs", "secrets")
NOT_USER_DEFINED = {"default", "bridge", "host", "none"}   # docker's NetworkMode.IsUserDefined


@dataclass
class Obj:
    key: str
    name: str
    external: bool
    named: bool                       # an explicit name: (used as is, not content-hashed)
    cfg: dict[str, Any] = field(default_factory=dict)


def _external(cfg: Mapping[str, Any]) -> bool:
    ext = cfg.get("external")
    return bool(ext.get("name") if isinstance(ext, dict) else ext)


def _one(stack: str, key: str, cfg: Any) -> Obj:
    cfg = dict(cfg or {})
    ext = cfg.get("external")
    if isinstance(ext, dict) and ext.get("name"):       # the old (3.3) spelling external: {name: X}
        return Obj(key, str(ext["name"]), True, True, cfg)
    if _external(cfg):
        return Obj(key, str(cfg.get("name") or key), True, True, cfg)
    if cfg.get("name"):
        return Obj(key, str(cfg["name"]), False, True, cfg)
    return Obj(key, f"{stack}_{key}", False, False, cfg)


def table(compose: Mapping[str, Any], stack: str) -> dict[str, dict[str, Obj]]:
    out: dict[str, dict[str, Obj]] = {}
    for kind in KINDS:
        declared = dict(compose.get(kind) or {})
        if kind == "networks":
            declared.setdefault("default", None)
        out[kind] = {str(k): _one(stack, str(k), v) for k, v in declared.items()}
    return out


def service_networks(svc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    nets = svc.get("networks")
    if not nets:
        return {"default": {}}
    if isinstance(nets, dict):
        return {str(k): dict(v or {}) for k, v in nets.items()}
    return {str(n): {} for n in nets}


def mount_sources(svc: Mapping[str, Any]) -> list[str]:
    """The named volumes a service mounts (short or long syntax; binds, tmpfs and anonymous excluded)."""
    out = []
    for vol in svc.get("volumes") or []:
        if isinstance(vol, dict):
            if vol.get("type", "volume") == "volume" and vol.get("source"):
                out.append(str(vol["source"]))
            continue
        parts = str(vol).split(":")
        if len(parts) > 1 and parts[0] and not parts[0].startswith(("/", ".", "~")):
            out.append(parts[0])
    return out


def _refs(svc: Mapping[str, Any], kind: str) -> list[str]:
    return [str(i if isinstance(i, str) else (i or {}).get("source")) for i in svc.get(kind) or []]


def undeclared(compose: Mapping[str, Any], objs: Mapping[str, Mapping[str, Obj]]) -> list[str]:
    """docker's 'references network X, which is not declared' / 'undefined volume X' / 'undefined secret X'."""
    problems = []
    for name, svc in (compose.get("services") or {}).items():
        svc = svc or {}
        for net in service_networks(svc):
            if net not in objs["networks"]:
                problems.append(f"services.{name}.networks: network {net!r} is not declared under networks:")
        for vol in mount_sources(svc):
            if vol not in objs["volumes"]:
                problems.append(f"services.{name}.volumes: volume {vol!r} is not declared under volumes:")
        for kind in ("configs", "secrets"):
            for ref in _refs(svc, kind):
                if ref not in objs[kind]:
                    problems.append(f"services.{name}.{kind}: {kind[:-1]} {ref!r} is not declared under {kind}:")
    return problems


def used(compose: Mapping[str, Any], kind: str) -> set[str]:
    """The keys of ``kind`` that some service uses (docker creates only the networks services use)."""
    out: set[str] = set()
    for svc in (compose.get("services") or {}).values():
        svc = svc or {}
        if kind == "networks":
            out |= set(service_networks(svc))
        elif kind == "volumes":
            out |= set(mount_sources(svc))
        else:
            out |= set(_refs(svc, kind))
    return out
