"""Compose lint from the seed's pitfalls ("趟过的一些坑") and tips. Pure: a list of findings.

- many ``links``: every link injects environment variables per exposed port of the linked service; the seed's
  cluster hit a docker panic from that explosion. Swarm mode ignores links anyway: use a network + DNS names.
- an ``entrypoint`` inside a volume mount: the image's entrypoint is hidden by the volume, and the seed's
  service updates failed because of it.
- ``aliyun.*`` extension labels in a production file: "use compose's native orchestration in production".
- a secret-looking variable with a literal value in the file ("no keys or passwords in source or images").
- a floating ``latest`` (or untagged) image: the same tag does not redeploy and nobody knows what runs.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .plan import env_map, is_floating
from .settings import looks_secret

MAX_LINKS = 5


def _labels(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value]
    return [str(item).partition("=")[0] for item in value or []]


def _entry_path(entrypoint: Any) -> str | None:
    if isinstance(entrypoint, list):
        first = str(entrypoint[0]) if entrypoint else ""
    elif isinstance(entrypoint, str):
        first = entrypoint.split()[0] if entrypoint.split() else ""
    else:
        return None
    return first if first.startswith("/") else None


def _mount_targets(volumes: Any) -> list[str]:
    targets = []
    for vol in volumes or []:
        if isinstance(vol, dict):
            target = vol.get("target")
        else:
            parts = str(vol).split(":")
            target = parts[1] if len(parts) >= 2 else parts[0]
        if target:
            targets.append(str(target).rstrip("/") or "/")
    return targets


def lint(raw: Mapping[str, Any], rendered: Mapping[str, Any], production: bool) -> list[str]:
    """Findings, one line each, naming the service and the key. ``raw`` is the file before substitution."""
    findings = []
    raw_services = raw.get("services") or {}
    for name, svc in (rendered.get("services") or {}).items():
        svc = svc or {}
        links = svc.get("links") or []
        if len(links) > MAX_LINKS:
            findings.append(f"services.{name}.links: {len(links)} links (more than {MAX_LINKS}); each injects "
                            "env vars per port, and too many crashed docker — use a network and service names")
        entry = _entry_path(svc.get("entrypoint"))
        if entry:
            for target in _mount_targets(svc.get("volumes")):
                if entry == target or entry.startswith(target + "/") or target == "/":
                    findings.append(f"services.{name}.entrypoint: {entry} is inside the volume mounted at "
                                    f"{target}; the image's file is hidden and updates fail — keep it in the image")
                    break
        if production:
            labels = _labels(svc.get("labels")) + _labels((svc.get("deploy") or {}).get("labels"))
            for label in labels:
                if label.startswith("aliyun."):
                    findings.append(f"services.{name}.labels: {label} is an Aliyun extension; a production file "
                                    "should use compose's native keys (deploy:, healthcheck:)")
        raw_env = env_map((raw_services.get(name) or {}).get("environment"))
        for key, value in raw_env.items():
            if looks_secret(key) and value and not re.search(r"\$\{?[A-Za-z_]", value):
                findings.append(f"services.{name}.environment.{key}: a secret-looking value is written in the "
                                "file; pass it as ${" + key + "} from a Drone secret (env_from / environment)")
        image = svc.get("image")
        if image and is_floating(str(image)):
            findings.append(f"services.{name}.image: {image} is a floating tag; deploy a version (or a digest)")
    return findings
