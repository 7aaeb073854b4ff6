"""Preflight for a swarm cluster, before any change: the cluster pitfalls the seed's talk lists.

- nodes that are not Ready or not Active (their tasks go elsewhere, or nowhere);
- duplicate node hostnames (cloned machines: the seed's broken overlay network);
- engine versions that differ across nodes;
- managers without quorum (no leader: nothing can change; this fails the step even under ``warn``);
- images the cluster cannot pull with the forwarded credentials (missing, refused, or not built for the
  nodes' platform).

``check`` is pure (node list + image lookups → findings); ``run`` does the I/O and applies the policy
(``preflight: off|warn|enforce``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from tagship import log
from tagship.errors import PluginError


@dataclass
class Finding:
    check: str        # nodes | hostnames | versions | quorum | image
    message: str
    fatal: bool = False   # fails even under warn (no quorum: nothing could change anyway)


def _host(node: Mapping[str, Any]) -> str:
    return (node.get("Description") or {}).get("Hostname") or node.get("ID", "?")[:12]


def check_nodes(nodes: Iterable[Mapping[str, Any]]) -> list[Finding]:
    nodes = list(nodes)
    out: list[Finding] = []
    live = []
    for n in nodes:
        state = (n.get("Status") or {}).get("State", "unknown")
        avail = (n.get("Spec") or {}).get("Availability", "active")
        if state != "ready":
            out.append(Finding("nodes", f"node {_host(n)} is {state}"))
        else:
            live.append(n)
        if avail != "active":
            out.append(Finding("nodes", f"node {_host(n)} is {avail} (takes no new tasks)"))
    dup = sorted(h for h, c in Counter(_host(n) for n in live).items() if c > 1)
    for h in dup:
        out.append(Finding("hostnames", f"{sum(1 for n in live if _host(n) == h)} nodes share the hostname {h} "
                           "(cloned machines: overlay networking breaks); give each node its own hostname"))
    versions: dict[str, list[str]] = {}
    for n in live:
        v = ((n.get("Description") or {}).get("Engine") or {}).get("EngineVersion") or "?"
        versions.setdefault(v, []).append(_host(n))
    if len(versions) > 1:
        parts = "; ".join(f"{v} on {', '.join(sorted(hs))}" for v, hs in sorted(versions.items()))
        out.append(Finding("versions", f"engine versions differ across nodes: {parts}"))
    managers = [n for n in nodes if n.get("ManagerStatus")]
    reachable = [n for n in managers if n["ManagerStatus"].get("Reachability") == "reachable"]
    if managers and len(reachable) <= len(managers) // 2:
        out.append(Finding("quorum", f"only {len(reachable)} of {len(managers)} managers are reachable: the swarm "
                           "has no quorum", fatal=True))
    elif len(reachable) < len(managers):
        gone = ", ".join(sorted(_host(n) for n in managers if n not in reachable))
        out.append(Finding("quorum", f"manager {gone} is unreachable (quorum holds, one more loss breaks it)"))
    return out


def check_image(service: str, image: str, lookup: Callable[[str], Mapping[str, Any]],
                platforms: set[tuple[str, str]]) -> list[Finding]:
    """``lookup``: the registry's distribution inspect with the forwarded auth (raises with the engine's text)."""
    try:
        found = lookup(image)
    except Exception as exc:  # docker.errors.APIError and friends: the engine's own explanation
        text = getattr(exc, "explanation", None) or str(exc)
        return [Finding("image", f"{service}: the cluster cannot pull {image}: {text}")]
    offered = {(p.get("os", ""), p.get("architecture", "")) for p in found.get("Platforms") or []}
    missing = sorted(f"{o}/{a}" for o, a in platforms if offered and (o, a) not in offered)
    if missing:
        have = ", ".join(sorted(f"{o}/{a}" for o, a in offered))
        return [Finding("image", f"{service}: {image} is not built for {', '.join(missing)} (it has {have})")]
    return []


def run(api: Any, services: Mapping[str, str], auth: Callable[[str], Any], mode: str) -> list[Finding]:
    """All checks against the manager; log them; ``enforce`` (or a fatal finding) fails the step."""
    import docker

    if mode == "off":
        return []
    try:
        nodes = api.nodes()
    except docker.errors.APIError as exc:
        findings = [Finding("quorum", f"the managers cannot answer: {exc.explanation or exc}", fatal=True)]
        nodes = []
    else:
        findings = check_nodes(nodes)
    archs = {(p.get("OS", "linux").lower(), _arch(p.get("Architecture", ""))) for p in
             ((n.get("Description") or {}).get("Platform") or {} for n in nodes
              if (n.get("Status") or {}).get("State") == "ready")}
    if nodes:
        for name, image in services.items():
            first = image.split("/", 1)[0]
            if "/" not in image or not ("." in first or ":" in first or first == "localhost"):
                continue   # Docker Hub shorthand: not a registry of ours (no Hub here); the pin step said its part
            findings += check_image(name, image, lambda ref: api.inspect_distribution(ref, auth_config=auth(ref)),
                                    archs)
    for f in findings:
        log.warn(f"preflight: {f.message}")
    if not findings:
        log.info(f"preflight: {len(nodes)} nodes ready and active, one hostname each, one engine version; "
                 "images pullable")
    fatal = [f for f in findings if f.fatal or mode == "enforce"]
    if fatal:
        raise PluginError(f"preflight failed: {'; '.join(f.message for f in fatal)}",
                          hint="fix the cluster, or set preflight: warn to deploy anyway"
                          if not any(f.fatal for f in fatal) else "restore the managers' quorum first")
    return findings


def _arch(machine: str) -> str:
    """A node's uname machine (x86_64, aarch64) as an OCI architecture (amd64, arm64)."""
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)
