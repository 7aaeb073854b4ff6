"""Read-only checks before a swarm deploy changes anything: docker's unsupported-option warnings, and every
external object a service uses exists (else exit 2, as docker refuses a missing external network — and,
unlike docker, a missing external volume, which each node would otherwise create empty)."""

from __future__ import annotations

from typing import Any

from tagship import log
from tagship.errors import SettingsError

from . import swarm_objects
from .backend import Desired
from .swarm_spec import DEPRECATED, SILENT, UNSUPPORTED


def warn_unsupported(desired: Desired) -> None:
    """docker stack deploy's own lines, word for word, then what docker drops without a word."""
    svcs = [w.config for w in desired.services.values()]
    unsupported = [k for k in UNSUPPORTED if any(k in c for c in svcs)]
    if unsupported:
        log.warn(f"Ignoring unsupported options: {', '.join(unsupported)}")
    deprecated = [k for k in DEPRECATED if any(k in c for c in svcs)]
    if deprecated:
        log.warn("Ignoring deprecated options: " + " ".join(f"{k}: {DEPRECATED[k]}" for k in deprecated))
    silent = [k for k in SILENT if any(k in c for c in svcs)]
    if silent:
        log.note(f"swarm has no equivalent for {', '.join(silent)} (docker stack deploy drops them too)")


def check_externals(api: Any, desired: Desired, objs: dict[str, dict[str, Any]]) -> None:
    """Every external object the services use must exist: exit 2 before anything changes."""
    problems = []
    for key in sorted(swarm_objects.used(desired.compose, "networks")):
        obj = objs["networks"][key]
        if not obj.external:
            continue
        found = [n for n in api.networks(names=[obj.name]) if n["Name"] == obj.name]
        if not found:
            problems.append(f"networks.{key}: external network {obj.name} does not exist "
                            f"(create it first: docker network create -d overlay {obj.name})")
        elif found[0].get("Scope") != "swarm":
            problems.append(f"networks.{key}: external network {obj.name} is {found[0].get('Scope')}-scoped, "
                            "not swarm-scoped")
    for key in sorted(swarm_objects.used(desired.compose, "volumes")):
        obj = objs["volumes"][key]
        if obj.external:
            vols = (api.volumes(filters={"name": obj.name}) or {}).get("Volumes") or []
            if not any(v["Name"] == obj.name for v in vols):
                problems.append(f"volumes.{key}: external volume {obj.name} does not exist (create it first: "
                                f"docker volume create {obj.name})")
    for kind, listing in (("configs", api.configs), ("secrets", api.secrets)):
        for key in sorted(swarm_objects.used(desired.compose, kind)):
            obj = objs[kind][key]
            if obj.external and not any(o["Spec"]["Name"] == obj.name
                                        for o in listing(filters={"name": obj.name})):
                problems.append(f"{kind}.{key}: external {kind[:-1]} {obj.name} does not exist")
    if problems:
        raise SettingsError([f"PLUGIN_COMPOSE_FILE: {p}" for p in problems])
