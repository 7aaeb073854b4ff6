"""registry-push, start to end: plan → log in → build once → policy → tag → push everywhere → read back.

Nothing is pushed before the build and the policy pass; the version tag goes before the floating ones, so a
failure leaves ``latest`` where it was; the result names every reference that was pushed.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tagship import log, mask, proc
from tagship.errors import PluginError, SettingsError
from tagship.paths import confine
from tagship.retry import RetryPolicy, RetryStats

from . import buildrun, plan
from .plan import Dest
from .policy import check_policy
from .settings import Settings

BUILD_TAG = "tagship-build/{name}:latest"


def dests_of(s: Settings, aliyun_login: tuple[str, str] | None = None) -> list[Dest]:
    """Every target: the main one (registry + repo, or the seed's project_module) then ``registries``."""
    out: list[Dest] = []
    main_path = plan.repo_name(s.repo, s.project, s.module, s.namespace)
    pw = s.password.get_secret_value() if s.password else None
    user = s.username
    if aliyun_login:
        user, pw = aliyun_login
    if s.repo or s.project:
        out.append(plan.resolve_dest(s.registry, main_path, username=user, password=pw, insecure=s.insecure,
                                     region=s.region, network=s.network, instance_id=s.instance_id))
    default_path = out[0].path if out else ""
    for i, t in enumerate(s.registries):
        password = t.password.get_secret_value() if t.password else None
        if t.password_env:
            if not os.environ.get(t.password_env):
                raise SettingsError(f"PLUGIN_REGISTRIES: entry {i} reads its password from {t.password_env}, "
                                    "which is not set (environment: {from_secret: …} on the step)")
            password = os.environ[t.password_env]
            mask.register(password)
        out.append(plan.resolve_dest(t.registry, t.repo or default_path, username=t.username, password=password,
                                     required=t.required, insecure=t.insecure, region=s.region,
                                     network=s.network, instance_id=s.instance_id))
    for d in out:
        if d.host.endswith(".aliyuncs.com") and "/" not in d.path:
            raise SettingsError(f"PLUGIN_REPO: {d.image}: an Aliyun repository is <namespace>/<name> "
                                "(e.g. ly_ops/cmdb_api; with project+module set namespace)")
    seen, unique = set(), []
    for d in out:
        if d.image not in seen:
            seen.add(d.image)
            unique.append(d)
    return unique


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, ValueError):  # missing, a directory, or not UTF-8
        return None


def commit_time(workspace: Path, build_created: int | None) -> datetime:
    """When the commit was made (reproducible ``created`` label), else the build's start, else now."""
    if (workspace / ".git").exists():
        res = proc.run(["git", "-C", str(workspace), "log", "-1", "--format=%ct"], check=False, timeout=10)
        if res.returncode == 0 and res.stdout.strip().isdigit():
            return datetime.fromtimestamp(int(res.stdout.strip()), timezone.utc)
    if build_created:
        return datetime.fromtimestamp(build_created, timezone.utc)
    return datetime.now(timezone.utc)


def _aliyun(s: Settings, r: Any) -> tuple[str, str] | None:
    """With an AccessKey (and no password): a temporary Container Registry login through the CR API —
    personal edition ``GET /tokens``, Enterprise (``instance_id``) ``GetAuthorizationToken``."""
    if not s.access_key_id or s.password:
        return None
    from .aliyun_login import exchange

    user, token = exchange(s)
    r.secret(token)
    log.ok(f"Container Registry login for {user} (temporary, from the AccessKey)")
    return user, token


def run(s: Settings, r: Any) -> dict[str, Any]:
    from . import engine

    ws = r.workspace
    for env, value in (("PLUGIN_DOCKERFILE", s.dockerfile), ("PLUGIN_CONTEXT", s.context),
                       ("PLUGIN_TAGS_FILE", s.tags_file)):
        confine(ws, value, env, allow=s.allow_outside_workspace)
    for t in s.registries:
        r.secret(t.password)
    dests = dests_of(s)                          # settings problems first, then the AccessKey exchange
    login = _aliyun(s, r)
    if login and (s.repo or s.project):
        dests = dests_of(s, login)
    if not dests:
        raise SettingsError("PLUGIN_REPO: no target to push to")
    dockerfile = (ws / s.dockerfile).resolve()
    if not dockerfile.is_file():
        raise SettingsError(f"PLUGIN_DOCKERFILE: {s.dockerfile} not found in the workspace")
    policy = RetryPolicy(attempts=s.push_attempts, deadline=600, base=0.5, cap=10)
    stats = RetryStats()
    tp = _plan_tags(s, r, released=[])          # is this a release at all? (auto_tag on a feature branch)
    client, base_url, dind = engine.connect(s)
    created: list[str] = []
    try:
        push_to = [] if s.dry_run or not tp.push else _login_all(client, dests, policy, stats, r)
        if tp.push and not s.dry_run and not push_to:
            raise PluginError("no target accepted the login (all of them are optional and all refused)",
                              hint="check the registries' usernames and passwords")
        judge = push_to or (dests if s.dry_run and tp.push else [])   # a dry run reads the tag lists too
        if judge and s.floating_tags == "smart" and (s.auto_tag or set(tp.tags) & plan.floating_of(tp.version)):
            from .push import released_tags

            released = sorted({t for d in judge for t in released_tags(d, ca_cert=s.ca_cert)})
            tp = _plan_tags(s, r, released=released)
        for note in tp.notes:
            log.note(note)
        floating = plan.floating_of(tp.version)
        if s.auto_tag_suffix:
            floating |= {f"{t}-{s.auto_tag_suffix}" for t in floating} | {s.auto_tag_suffix}
        tags = sorted(tp.tags, key=lambda t: t in floating)   # the version first, latest/X/X.Y last
        tags, deferred, defer_note = plan.split_deferred(tags, floating, s.defer_floating)
        if defer_note:
            log.note(defer_note)
        args, labels = _build_inputs(s, r, tp.version, dests[0])
        choice = buildrun.choose(s, client, _read(dockerfile) or "")
        refs = [d.ref(t) for d in dests for t in tags]
        log.table("registry-push plan", [
            ("targets", ", ".join(f"{d.image}{'' if d.required else ' (optional)'}" for d in dests)),
            ("tags", ", ".join(tags) or "(none: build only)"),
            ("held back", ", ".join(tp.dropped) or "-"),
            *([("deferred", f"{', '.join(deferred)} (cs-deploy moves them after a healthy deploy)")]
              if deferred else []),
            ("build args", ", ".join(f"{k}={v}" for k, v in args.items()) or "-"),
            ("dockerfile", f"{s.dockerfile} (context {s.context}), {choice.builder}"
                           f"{f', {len(choice.secrets)} secret(s)' if choice.secrets else ''}"
                           f"{', ssh-agent' if s.ssh_agent_key else ''}"),
            ("policy", f"{s.policy}{' + seed layout' if s.layout == 'seed' else ''}"),
        ])
        r.summary += [("image", dests[0].image), ("tags", ", ".join(tags) or "-")]
        result: dict[str, Any] = r.result   # filled as we go: a failed run still reports what it got to
        result.update({"image": dests[0].image, "tags": tags, "refs": [], "held_back": tp.dropped,
                       "version": tp.version, "build_args": sorted(args)})
        if deferred:
            r.summary.append(("deferred", ", ".join(deferred)))
        r.pending = "build the image; nothing pushed yet"
        build_tag = BUILD_TAG.format(name=dests[0].path.replace("/", "_"))
        hosts = dict(h.split(":", 1) for h in s.add_host if ":" in h)
        previous = engine.image_id(client, build_tag)
        image_id = buildrun.build(choice, s, client, base_url, workspace=ws, context=(ws / s.context).resolve(),
                                  dockerfile=dockerfile, tag=build_tag, args=args, labels=labels, hosts=hosts,
                                  dests=push_to or dests, result=result)
        log.ok(f"built {image_id[:19]}")
        r.pending = "policy check and push (nothing pushed yet)"
        if s.purge and previous and previous != image_id:
            engine.purge(client, [previous], prune=True)   # the last build of this repo, now untagged
        result["image_id"] = image_id
        scan = None
        if s.policy == "warn" and push_to and not choice.needles:
            # warnings do not hold the push back, so the scan (a docker save of every layer) runs beside it
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(1, thread_name_prefix="policy")
            scan = pool.submit(check_policy, s, engine.api_client(base_url), image_id, _read(dockerfile) or "",
                               r, result)
            pool.shutdown(wait=False)
        else:   # build secrets: the proof holds the push back whatever `policy` says
            check_policy(s, client, image_id, _read(dockerfile) or "", r, result, choice.needles)
        if not push_to:
            why = "dry run" if s.dry_run else tp.notes[0] if tp.notes else "not a release"
            log.note(f"not pushing ({why}); would push: {', '.join(refs)}")
            r.summary.append(("pushed", f"nothing ({'dry run' if s.dry_run else 'not a release ref'})"))
            result["would_push"] = refs
            if deferred:
                result["would_defer"] = deferred
            return result
        for d in push_to:
            for t in tags:
                created.append(d.ref(t))   # first: a SIGTERM inside the call must still purge the tag
                client.tag(image_id, d.image, tag=t)
        r.pending = "push: some references may already be pushed (see the log)"
        try:
            _push(s, client, base_url, push_to, tags, floating, policy, stats, r, result)
            if deferred:
                result["deferred"] = _deferred(push_to, deferred, tp.version, result)
        finally:
            if scan is not None:
                try:
                    scan.result()
                except Exception as exc:   # policy: warn — a scan that breaks is a warning, not a red step
                    log.warn(f"image policy scan failed: {type(exc).__name__}: {exc}")
        r.pending = ""
        return result
    finally:
        if s.purge and created:
            engine.purge(client, created)
        engine.stop_dind(dind)


def _deferred(dests: list[Dest], tags: list[str], version: str | None, result: dict) -> dict[str, Any]:
    """What cs-deploy needs to move the deferred tags: where (every target that got the image; no
    credentials — cs-deploy brings its own), which tags, and the digest they must point at."""
    pushed = {t["image"] for t in result.get("targets", []) if t.get("status") == "pushed"}
    return {"tags": tags, "version": version, "digest": result.get("digest"),
            "targets": [{"repo": d.image, "registry": d.host, "insecure": d.insecure}
                        for d in dests if d.image in pushed]}


def _plan_tags(s: Settings, r: Any, released: list[str]) -> plan.TagPlan:
    ws = r.workspace
    version = plan.version_from(r.ctx.tag_name, _read(ws / ".version"))
    try:
        return plan.plan_tags(tags=s.tags, tags_file=_read(ws / s.tags_file), auto_tag=s.auto_tag,
                              auto_tag_suffix=s.auto_tag_suffix, ref=r.ctx.ref, tag=r.ctx.tag_name,
                              branch=r.ctx.branch, default_branch=s.default_branch, version=version,
                              released=released, floating=s.floating_tags)
    except ValueError as exc:
        raise SettingsError(f"PLUGIN_TAGS: {exc}") from None


def _login_all(client: Any, dests: list[Dest], policy: RetryPolicy, stats: RetryStats, r: Any) -> list[Dest]:
    """Log in to every target before building: a wrong password fails in a second, not after the build.
    An optional target that refuses us is dropped with a warning."""
    from .push import login

    r.pending = "log in, build, push (nothing pushed yet)"
    ok = []
    for d in dests:
        try:
            login(client, d, policy, stats)
            ok.append(d)
        except PluginError as exc:
            if d.required:
                raise
            log.warn(f"{exc.message} — {d.image} is optional, skipping it")
    return ok


def _build_inputs(s: Settings, r: Any, version: str | None, first: Dest) -> tuple[dict[str, str], dict[str, str]]:
    args, secret_args = plan.plan_build_args(s.build_args, s.build_args_from_env, dict(os.environ),
                                             version=version, module=s.module)
    for name in secret_args:
        r.secret(args[name])
        log.warn(f"build arg {name} looks secret: it is masked here, but both builders record build args "
                 "in the image history; use a build secret (secrets:) or pass it at run time instead")
    for value in plan.proxy_secrets(args):
        r.secret(value)
    labels: dict[str, str] = {}
    if s.auto_label:
        labels = plan.oci_labels(created=commit_time(r.workspace, r.ctx.build_created), revision=r.ctx.commit_sha,
                                 source=r.ctx.remote_url, url=r.ctx.repo_link, version=version,
                                 title=first.path.rsplit("/", 1)[-1])
    labels.update(s.labels)
    return args, labels


def _push(s: Settings, client: Any, base_url: str | None, dests: list[Dest], tags: list[str], moving: set[str],
          policy: RetryPolicy, stats: RetryStats, r: Any, result: dict) -> None:
    from . import engine
    from .push import DestResult, push_all, verify

    # two phases: the fixed tags everywhere first; latest/X/X.Y move only once every required target has
    # the image, so a failed target never leaves a floating tag moved in one registry and not another
    log.info(f"pushing {', '.join(tags)} to {len(dests)} target(s), {min(len(dests), s.max_parallel)} at a time")
    by_image = {d.image: DestResult(d) for d in dests}
    fixed = [t for t in tags if t not in moving]
    phases = [p for p in (fixed, [t for t in tags if t in moving]) if p]
    for n, phase in enumerate(phases):
        alive = [d for d in dests if by_image[d.image].error is None]
        push_all(lambda: engine.api_client(base_url), alive, phase, parallel=s.max_parallel, policy=policy,
                 stats=stats, results=by_image)
        if n + 1 < len(phases) and any(by_image[d.image].error for d in dests if d.required):
            result["not_moved"] = phases[-1]
            log.error(f"not moving {', '.join(phases[-1])} anywhere: a required target failed")
            break
    results = list(by_image.values())
    failed_required = []
    targets = []
    for res in results:
        entry = {"image": res.dest.image, "required": res.dest.required, "tags": list(res.digests),
                 "layers_pushed": res.pushed, "layers_existing": res.existing}
        if res.error is None:
            verify(res, ca_cert=s.ca_cert, policy=policy, stats=stats)
            entry["digest"] = next(iter(res.verified.values()), None)
            entry["status"] = "pushed"
        else:
            entry["status"] = "failed"
            entry["error"] = res.error
            entry["pushed_before_failure"] = list(res.digests)
            if res.dest.required:
                failed_required.append(res)
            (log.error if res.dest.required else log.warn)(
                f"{res.dest.image}: {res.error}" + ("" if res.dest.required else " (optional target: a warning)"))
        targets.append(entry)
    ok = [res for res in results if res.error is None]
    result["targets"] = targets
    result["refs"] = [res.dest.ref(t) for res in ok for t in res.verified]
    result["layers_pushed"] = sum(res.pushed for res in ok)
    result["layers_existing"] = sum(res.existing for res in ok)
    result["retries"] = stats.retries
    digests = {dg for res in ok for dg in [*res.digests.values(), *res.verified.values()]}
    result["digest"] = next(iter(digests)) if len(digests) == 1 else None
    r.summary += [("digest", result["digest"] or ", ".join(sorted(digests))),
                  ("refs", len(result["refs"])),
                  ("layers", f"{result['layers_pushed']} pushed, {result['layers_existing']} already there"),
                  ("retries", stats.retries)]
    if failed_required:
        names = ", ".join(res.dest.image for res in failed_required)
        raise PluginError(f"push failed for required target(s) {names}: {failed_required[0].error}",
                          hint="pushed so far: " + (", ".join(result["refs"]) or "nothing"))
    if len(digests) > 1:
        raise PluginError(f"the registries serve different digests for this image: {', '.join(sorted(digests))}",
                          hint="something else pushed to these tags meanwhile; rerun the step")
    if not ok:
        raise PluginError("no target received the image")
