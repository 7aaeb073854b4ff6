"""Move the floating tags registry-push deferred (``defer_floating``) once the deploy is healthy.

registry-push pushed only the version tags and recorded ``deferred`` (tags, targets, digest) in
``.tagship/registry-push.json``. After a successful deploy of that digest, cs-deploy points each deferred tag
at it over the registry's HTTP API v2 (``tagship.registry``: the manifest copied byte-for-byte, the digest
checked) — judging smart floating again against the tag list of this moment. After a failed deploy nothing
moves and the log says where ``latest`` stays.
"""

from __future__ import annotations

from typing import Any, Iterable

from tagship import log, mask
from tagship.errors import PluginError
from tagship.registry import RegistryClient, RegistryError, ca_for, transient
from tagship.results import read_result
from tagship.retry import RetryPolicy, call

from . import plan as plan_mod

POLICY = RetryPolicy(attempts=4, deadline=60, base=0.5, cap=5)


def _split(repo: str) -> tuple[str, str]:
    host, _, path = repo.partition("/")
    return host, path


def _credentials(settings: Any, host: str) -> tuple[str, str | None]:
    """cs-deploy's registry_username/registry_password (the swarm gets the same), else the docker config's
    login for that host (as the swarm backend falls back to it), else anonymous."""
    if settings.registry_username:
        pw = settings.registry_password.get_secret_value() if settings.registry_password else ""
        return settings.registry_username, pw
    try:
        import docker

        auth = docker.auth.resolve_authconfig(docker.auth.load_config(), host) or {}
    except Exception:
        auth = {}
    if auth.get("username"):
        mask.register(auth.get("password") or "")
        return auth["username"], auth.get("password") or ""
    return "", None


def _client(settings: Any, target: dict) -> tuple[RegistryClient, str]:
    host, path = _split(str(target.get("repo", "")))
    host = str(target.get("registry") or host)
    user, pw = _credentials(settings, host)
    insecure = bool(target.get("insecure"))
    return RegistryClient(host, user, pw, verify=ca_for(host, settings.registry_ca_cert or "", insecure),
                          allow_http=insecure), path


def _deferred(run: Any) -> tuple[dict | None, dict | None]:
    result = read_result(run.workspace, "registry-push")
    return result, plan_mod.deferred_of(result)


def note_dry_run(run: Any) -> None:
    _, deferred = _deferred(run)
    if deferred:
        log.note(f"dry run: after a healthy deploy, {', '.join(deferred['tags'])} would move to "
                 f"{deferred['digest']} (deferred by registry-push)")


def promote(settings: Any, run: Any, images: Iterable[str]) -> None:
    """After a healthy deploy: move the deferred tags if this deploy runs their digest. A failed move is a
    PluginError (exit 1) that says the deploy itself stays."""
    result, deferred = _deferred(run)
    if deferred is None:
        return
    digest, tags = str(deferred["digest"]), [str(t) for t in deferred["tags"]]
    running = plan_mod.deployed_digests(images, result)
    if digest not in running:
        log.note(f"not moving {', '.join(tags)}: registry-push deferred them for {digest}, and this deploy "
                 f"runs {', '.join(sorted(running)) or 'no pinned digest'}")
        run.result["promoted"] = []
        return
    run.pending = f"move {', '.join(tags)} to {digest} (the deploy itself is done)"
    clients = [(t, *_client(settings, t)) for t in deferred["targets"]]
    try:
        released = sorted({tag for _, api, path in clients
                           for tag in call(api.tags, path, is_transient=transient, policy=POLICY,
                                           what=f"list the tags of {api.host}/{path}")})
    except Exception as exc:
        raise _failed(tags, exc) from None
    move, held = plan_mod.promotion(tags, deferred.get("version"), released)
    if held:
        top = _highest(released)
        log.note(f"not moving {', '.join(held)}: the registry already has {top}, higher than "
                 f"{deferred.get('version')}")
    promoted: list[str] = []
    run.result["promoted"] = promoted
    run.result["promotion_held_back"] = held
    for target, api, path in clients:
        for tag in move:
            try:
                call(api.put_tag, path, digest, tag, is_transient=transient, policy=POLICY,
                     what=f"move {api.host}/{path}:{tag}")
            except Exception as exc:
                raise _failed([tag], exc, promoted) from None
            promoted.append(f"{target.get('repo')}:{tag}")
            log.ok(f"moved {target.get('repo')}:{tag} → {digest} (healthy deploy)")
    if promoted:
        run.summary.append(("promoted", ", ".join(move)))
    run.pending = ""


def _highest(released: list[str]) -> str | None:
    from tagship import versions

    return versions.highest(released, stable_only=True)


def _failed(tags: list[str], exc: BaseException, done: list[str] | None = None) -> PluginError:
    text = str(exc) if isinstance(exc, RegistryError) else f"{type(exc).__name__}: {exc}"
    what = f"{tags[0]} was" if len(tags) == 1 else f"{', '.join(tags)} were"
    return PluginError(f"deployed, but {what} not moved: {mask.mask(text)}",
                       hint=("moved before the failure: " + ", ".join(done) + "; " if done else "")
                       + "the deploy stays; re-run this step (nothing is redeployed) or check "
                         "registry_username/registry_password for push rights")


def hold(settings: Any, run: Any) -> None:
    """After a failed deploy: nothing moves; say where each deferred tag stays (best effort)."""
    _, deferred = _deferred(run)
    if deferred is None:
        return
    run.result["promoted"] = []
    for target in deferred["targets"]:
        api, path = _client(settings, target)
        reachable = True
        for tag in deferred["tags"]:
            where = "where it was"
            if reachable:
                try:
                    where = api.digest(path, tag)
                except RegistryError as exc:
                    where = "nothing (no such tag yet)" if exc.status == 404 else f"where it was ({exc})"
                except Exception as exc:     # unreachable: do not wait on it again for every tag
                    where, reachable = f"where it was ({type(exc).__name__})", False
            log.note(f"{tag} stays on {where}: {target.get('repo')}:{tag} is not moved after a failed deploy")
