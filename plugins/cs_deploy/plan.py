"""Pure decisions of cs-deploy (no I/O): variables, image references and pinning, the per-service view of a
compose file, and the current-vs-desired diff. Table-tested in tests/unit/test_cs_deploy_plan.py.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from tagship.mask import MASK

from .backend import Change, ServiceDiff, ServiceWant
from .settings import looks_secret

_DRONE_PREFIXES = ("DRONE_", "CI_")


def default_version(tag: str | None, build_number: str | None, short_sha: str | None) -> str | None:
    """``v1.4.0`` → ``1.4.0`` (the seed's ``${DRONE_TAG##v}``); no tag → ``<build>-<sha7>``."""
    if tag:
        return tag[1:] if tag[:1] in ("v", "V") and tag[1:2].isdigit() else tag
    if build_number and short_sha:
        return f"{build_number}-{short_sha[:7]}"
    return None


def variables(environment: Mapping[str, str], env_from: Iterable[str], environ: Mapping[str, str],
              version: str | None) -> tuple[dict[str, str], set[str], list[str]]:
    """The substitution variables, the names whose values are secret, and the env_from names not set.

    Precedence: ``environment`` > ``env_from`` > ``VERSION`` > the Drone/Woodpecker variables of the step.
    """
    found: dict[str, str] = {k: v for k, v in environ.items() if k.startswith(_DRONE_PREFIXES)}
    if version is not None:
        found["VERSION"] = version
    missing = []
    for name in env_from:
        if name in environ:
            found[name] = environ[name]
        else:
            missing.append(name)
    found.update(environment)
    secret = {k for k in list(environment) + list(env_from) if looks_secret(k)}
    return found, secret, missing


# ------------------------------------------------------------------------------------------- image refs

_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


def split_ref(image: str) -> tuple[str, str | None, str | None]:
    """``reg:5000/a/b:1.0@sha256:…`` → (``reg:5000/a/b``, ``1.0``, ``sha256:…``)."""
    digest = None
    m = _DIGEST.search(image)
    if m:
        digest, image = m.group(1), image[: m.start()]
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1:], digest
    return image, None, digest


def is_floating(image: str) -> bool:
    """No digest and a tag that moves by design (none, ``latest``)."""
    repo, tag, digest = split_ref(image)
    return digest is None and tag in (None, "latest")


def _norm_repo(repo: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/"):
        if repo.startswith(prefix):
            return repo[len(prefix):]
    return repo


def digest_from_result(image: str, result: Mapping[str, Any] | None) -> str | None:
    """The digest registry-push recorded for ``image`` (same repo, and the tag among its refs), if any."""
    if not result or result.get("status", "success") != "success":
        return None
    repo, tag, _ = split_ref(image)
    entries = result.get("registries") if isinstance(result.get("registries"), list) else [result]
    for entry in entries:
        if not isinstance(entry, Mapping) or not entry.get("digest"):
            continue
        refs = [str(r) for r in entry.get("refs") or []]
        names = {_norm_repo(split_ref(str(entry.get("image", "")))[0])} | {_norm_repo(split_ref(r)[0]) for r in refs}
        if _norm_repo(repo) not in names:
            continue
        tags = {split_ref(r)[1] for r in refs} | set(entry.get("tags") or [])
        if (tag or "latest") in tags:
            return str(entry["digest"])
    return None


def pinned(image: str, digest: str | None) -> str:
    if digest is None or split_ref(image)[2]:
        return image
    return f"{image}@{digest}"


# ------------------------------------------------------------------------------------ the compose view

def env_map(env: Any) -> dict[str, str]:
    """compose ``environment`` (a list of ``K=V`` or a map) → a map; ``K`` alone → empty string."""
    if isinstance(env, dict):
        return {str(k): "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
                for k, v in env.items()}
    out = {}
    for item in env or []:
        key, sep, value = str(item).partition("=")
        out[key] = value if sep else ""
    return out


def port_specs(ports: Any) -> list[str]:
    """compose ports (short or long form) → sorted ``published:target/protocol`` (``target/protocol`` when
    unpublished); host IPs are not part of swarm's model and are dropped."""
    out = []
    for port in ports or []:
        if isinstance(port, dict):
            target, published = port.get("target"), port.get("published")
            proto = port.get("protocol") or "tcp"
        else:
            text = str(port)
            text, _, proto = text.partition("/")
            proto = proto or "tcp"
            parts = text.split(":")
            target = parts[-1]
            published = parts[-2] if len(parts) >= 2 else None
        out.append(f"{published}:{target}/{proto}" if published not in (None, "") else f"{target}/{proto}")
    return sorted(out)


def service_wants(compose: Mapping[str, Any], images: Mapping[str, str]) -> dict[str, ServiceWant]:
    """Each compose service as the core and the backends compare it; ``images`` maps service → deployed image."""
    wants = {}
    for name, svc in compose["services"].items():
        svc = svc or {}
        deploy = svc.get("deploy") or {}
        replicas = None if deploy.get("mode") in ("global", "global-job") else int(deploy.get("replicas", 1))
        wants[name] = ServiceWant(
            name=name, image=images.get(name, svc.get("image", "")), image_ref=svc.get("image", ""),
            env=env_map(svc.get("environment")), replicas=replicas,
            update_config=dict(deploy.get("update_config") or {}), ports=port_specs(svc.get("ports")),
            config=dict(svc))
    return wants


# ------------------------------------------------------------------------------------------------ diff

def _shown(name: str, value: Any, secret_names: set[str]) -> Any:
    if value is None:
        return None
    return MASK if (name in secret_names or looks_secret(name)) else value


def diff_service(name: str, current: ServiceWant | None, want: ServiceWant, secret_names: set[str],
                 compare_update_config: bool = True) -> ServiceDiff:
    """What changes for one service. ``current`` is the running state in the same shape (None: new)."""
    if current is None:
        return ServiceDiff(name, "create", [Change("image", None, want.image)], None, want.image)
    changes: list[Change] = []
    if current.image != want.image:
        changes.append(Change("image", current.image, want.image))
    for key in sorted(set(current.env) | set(want.env)):
        old, new = current.env.get(key), want.env.get(key)
        if old != new:
            changes.append(Change(f"env.{key}", _shown(key, old, secret_names), _shown(key, new, secret_names)))
    if current.replicas != want.replicas:
        changes.append(Change("replicas", current.replicas, want.replicas))
    if compare_update_config:
        for key in sorted(set(current.update_config) | set(want.update_config)):
            old, new = current.update_config.get(key), want.update_config.get(key)
            if old != new:
                changes.append(Change(f"update_config.{key}", old, new))
    if current.ports != want.ports:
        changes.append(Change("ports", current.ports, want.ports))
    return ServiceDiff(name, "update" if changes else "unchanged", changes, current.image, want.image)


def removed(existing: Iterable[str], wanted: Iterable[str]) -> list[ServiceDiff]:
    want = set(wanted)
    return [ServiceDiff(name, "remove") for name in sorted(existing) if name not in want]


def diff_lines(diffs: Iterable[ServiceDiff]) -> list[str]:
    """Human lines for the plan, e.g. ``~ web  image: a:1 → a:2``."""
    sign = {"create": "+", "update": "~", "unchanged": "=", "remove": "-"}
    lines = []
    for d in diffs:
        head = f"{sign[d.action]} {d.service} ({d.action})"
        if d.action == "create":
            lines.append(f"{head}  image: {d.new_image}")
            continue
        lines.append(head)
        for c in d.changes:
            lines.append(f"    {c.field}: {_fmt(c.old)} → {_fmt(c.new)}")
    return lines


def _fmt(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


# ------------------------------------------------------------------- deferred floating tags (promotion)

def deployed_digests(images: Iterable[str], result: Mapping[str, Any] | None) -> set[str]:
    """The digests this deploy runs: pinned in the reference, else what registry-push recorded for its tag."""
    out = set()
    for image in images:
        digest = split_ref(image)[2] or digest_from_result(image, result)
        if digest:
            out.add(digest)
    return out


def deferred_of(result: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """registry-push's ``deferred`` record when it is usable (a successful push, tags, a digest, targets)."""
    if not result or result.get("status", "success") != "success":
        return None
    deferred = result.get("deferred")
    if not isinstance(deferred, Mapping) or not deferred.get("tags") or not deferred.get("digest"):
        return None
    if not isinstance(deferred.get("targets"), list) or not deferred["targets"]:
        return None
    return deferred


def promotion(tags: Iterable[str], version: str | None, released: Iterable[str]) -> tuple[list[str], list[str]]:
    """Which deferred tags to move now, judged again against the registry's tag list at this moment (another
    release may have gone out since registry-push): (move, held back). A floating tag (latest, X, X.Y) moves
    only while this version is the highest stable release of its range; without a SemVer version every tag
    moves as registry-push planned it."""
    from tagship import versions

    tags = list(dict.fromkeys(tags))
    v = versions.try_parse(version) if version else None
    if v is None:
        return tags, []
    floating = {"latest", str(v.major), f"{v.major}.{v.minor}"}
    allowed = set(versions.docker_tags(v.text, list(released), latest="auto", floating="smart"))
    held = [t for t in tags if t in floating and t not in allowed]
    return [t for t in tags if t not in held], held
