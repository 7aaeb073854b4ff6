"""The cs-deploy core: render → lint → plan → (dry run: show the diff) → apply → wait → gate → finish,
or on any failure roll back every touched service and fail. Backend-neutral (see backend.py)."""

from __future__ import annotations

import os
import time
from typing import Any

from tagship import log
from tagship.errors import PluginError, SettingsError
from tagship.paths import confine
from tagship.runtime import Interrupted

from . import lint as lint_mod
from . import plan as plan_mod
from . import render, swarm_env
from .backend import ApplyError, Applied, Desired, Outcome, Plan
from .backends import open_backend
from .settings import looks_secret



def _shown_compose(compose: dict[str, Any]) -> str:
    """The rendered file as the log shows it: each value of a secret-looking env name replaced by ******
    before it is dumped (a multi-line value is a YAML block whose lines the text masker cannot match)."""
    import copy

    import yaml

    hidden = "TAGSHIP-MASKED-VALUE"  # a plain YAML scalar, shown as ****** (YAML would quote '******')
    shown = copy.deepcopy(compose)
    for svc in (shown.get("services") or {}).values():
        env = (svc or {}).get("environment") if isinstance(svc, dict) else None
        if isinstance(env, dict):
            svc["environment"] = {k: hidden if looks_secret(str(k)) and v not in (None, "") else v
                                  for k, v in env.items()}
        elif isinstance(env, list):
            svc["environment"] = [f"{str(i).partition('=')[0]}={hidden}"
                                  if looks_secret(str(i).partition("=")[0]) and str(i).partition("=")[2] else i
                                  for i in env]
    text = yaml.safe_dump(shown, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text.replace(hidden, "******")

def prepare(settings: Any, run: Any, environ: dict[str, str] | None = None) -> Desired:
    """Everything before touching the cluster: variables, rendering, schema, lint, floating tags."""
    environ = dict(os.environ if environ is None else environ)
    ctx = run.ctx
    version = settings.version or plan_mod.default_version(ctx.tag_name, ctx.build_number, ctx.short_sha)
    variables, secret_names, missing = plan_mod.variables(settings.environment, settings.env_from, environ, version)
    if missing:
        raise SettingsError(f"PLUGIN_ENV_FROM: {', '.join(missing)} not set in the step's environment "
                            "(add them under environment:, e.g. with from_secret)")
    for name in secret_names:      # by name only: a value of 1-3 characters would mask every such string
        if len(variables.get(name) or "") >= 4:
            run.secret(variables[name])
    path = confine(run.workspace, settings.compose_file, "PLUGIN_COMPOSE_FILE", allow=settings.allow_outside_workspace)
    raw = render.load(path)
    compose, text = render.render(raw, variables)
    for svc in compose["services"].values():      # a literal secret in the file is still not for the log
        for key, value in plan_mod.env_map((svc or {}).get("environment")).items():
            if looks_secret(key) and len(value) >= 4:
                run.secret(value)
    log.info(f"rendered {settings.compose_file} (secrets masked):")
    for line in _shown_compose(compose).rstrip().splitlines():
        log.info(f"  | {line}")
    swarm_env.resolve(compose, variables, path.parent)   # env_file and bare KEYs, as docker's loader does
    for svc in compose["services"].values():      # values from env_file: secrets by name, as above
        for key, value in ((svc or {}).get("environment") or {}).items():
            if looks_secret(key) and len(value) >= 4:
                run.secret(value)

    if settings.lint != "off":
        findings = lint_mod.lint(raw, compose, settings.production)
        if findings and settings.lint == "enforce":
            raise SettingsError([f"PLUGIN_LINT: {f}" for f in findings])
        for finding in findings:
            log.warn(f"lint: {finding}")
        run.result["lint"] = findings

    images = {}
    for name, svc in compose["services"].items():
        image = (svc or {}).get("image")
        if not image:
            raise SettingsError(f"PLUGIN_COMPOSE_FILE: services.{name}: no image (swarm cannot build; "
                                "build and push it in an earlier step)")
        if plan_mod.is_floating(str(image)) and not settings.allow_floating:
            raise SettingsError(f"PLUGIN_ALLOW_FLOATING: services.{name}.image: {image} is a floating tag; "
                                "deploy a version (e.g. :${VERSION}) or set allow_floating: true")
        images[name] = str(image)
    wants = plan_mod.service_wants(compose, images)
    project_env = {k: v for k, v in variables.items() if k in settings.environment or k in settings.env_from}
    if version is not None:
        project_env.setdefault("VERSION", version)
    return Desired(stack=settings.stack, template=text, compose=compose, services=wants,
                   environment=project_env, version=version, secret_names=secret_names)


def _record(run: Any, plan: Plan, outcome: Outcome | None, applied: Applied | None) -> None:
    rows = []
    for d in plan.diffs:
        svc = outcome.services.get(d.service) if outcome else None
        rows.append({"service": d.service, "action": d.action, "old_image": d.old_image, "new_image": d.new_image,
                     "changes": [c.field for c in d.changes],
                     "state": svc.state if svc else ("untouched" if d.action == "unchanged" else None),
                     "seconds": svc.seconds if svc else None, "nodes": svc.nodes if svc else []})
    run.result["services"] = rows
    if applied is not None:
        run.result["touched"] = applied.touched
        run.result["removed"] = applied.removed


def deploy(settings: Any, run: Any) -> dict[str, Any]:
    desired = prepare(settings, run)
    times: dict[str, float] = {}
    run.result.update({"backend": settings.backend, "stack": settings.stack, "version": desired.version,
                       "durations": times})
    run.summary += [("backend", settings.backend), ("stack", settings.stack)]
    t = time.monotonic()
    backend = open_backend(settings, run)
    try:
        plan = backend.plan(desired)
        times["plan"] = round(time.monotonic() - t, 2)
        for note in plan.notes:
            log.note(note)
        lines = plan_mod.diff_lines(plan.diffs)
        log.info("plan (current → desired):")
        for line in lines:
            log.info(f"  {line}")
        run.result["diff"] = lines
        changed = [d.service for d in plan.diffs if d.action != "unchanged"]
        run.summary.append(("changes", ", ".join(changed) or "none"))
        _record(run, plan, None, None)
        if settings.dry_run or settings.fail_on_diff:     # fail_on_diff is for review: it never applies
            run.result["outcome"] = "dry-run"
            if settings.fail_on_diff and plan.changed:
                raise PluginError(f"the deployment would change {', '.join(changed)} (fail_on_diff)")
            if settings.dry_run:
                from .promote import note_dry_run

                note_dry_run(run)
            log.ok("dry run: nothing was changed")
            return {}
        if not plan.changed:
            run.result["outcome"] = "unchanged"
            log.ok(f"stack {settings.stack} already runs this spec; nothing to do")
            backend.finish(Applied(plan=plan))
            _promote(settings, run, plan)
            return {}
        _rollout(settings, run, backend, plan, times)
        return {}
    finally:
        backend.close()


def _promote(settings: Any, run: Any, plan: Plan) -> None:
    """A healthy deploy: move the floating tags registry-push deferred to it (``defer_floating``)."""
    from .promote import promote

    promote(settings, run, [w.image for w in plan.desired.services.values()])


CANCEL_BUDGET = 8.0   # seconds to put things back when the step is cancelled (Drone kills it soon after)


def _rollout(settings: Any, run: Any, backend: Any, plan: Plan, times: dict[str, float]) -> None:
    run.pending = f"the rollout of {settings.stack} is not confirmed healthy"
    box: dict[str, Applied] = {}
    try:
        applied, outcome = _attempt(settings, backend, plan, times, box)
    except Interrupted:
        applied = box.get("applied")
        if applied is not None and applied.touched and settings.rollback == "auto":
            log.warn(f"cancelled during the rollout; putting {', '.join(applied.touched)} back")
            back = backend.rollback(applied, time.monotonic() + min(CANCEL_BUDGET, settings.rollback_timeout))
            run.result["rollback"] = {"state": back.state, "message": back.message}
            if back.state == "rolled-back":
                log.ok(f"rolled back: {', '.join(applied.touched)} on their previous spec")
                run.pending = ""
            else:
                run.pending = (f"the rollback of {', '.join(applied.touched)} was submitted and the cluster "
                               "finishes it; check the stack")
        raise
    _record(run, plan, outcome, applied)
    if outcome.ok:
        backend.finish(applied)
        _record(run, plan, outcome, applied)
        run.pending = ""
        run.result["outcome"] = "deployed"
        run.summary.append(("outcome", f"deployed in {sum(times.values()):.1f}s"))
        log.ok(f"stack {settings.stack}: {', '.join(applied.touched)} converged")
        _promote(settings, run, plan)
        return
    run.result["outcome"] = outcome.state
    from .promote import hold

    hold(settings, run)     # nothing moves after a failed deploy; the log says where latest stays
    message = f"deploy of {settings.stack} failed: {outcome.message}"
    if settings.rollback == "auto" and applied.touched:
        log.warn(f"{message}; rolling back {', '.join(applied.touched)}")
        t = time.monotonic()
        back = backend.rollback(applied, time.monotonic() + settings.rollback_timeout)
        times["rollback"] = round(time.monotonic() - t, 2)
        run.result["rollback"] = {"state": back.state, "message": back.message}
        run.result["outcome"] = f"{outcome.state}, {back.state}"
        run.pending = "" if back.state == "rolled-back" else "the stack is in a mixed state: check it now"
        tail = ("every touched service is back on its previous spec" if back.state == "rolled-back"
                else f"ROLLBACK FAILED: {back.message}")
        run.summary.append(("outcome", f"{outcome.state}; {back.state}"))
        hint = (f"look at `docker service ps --no-trunc {settings.stack}_<service>` for the failing tasks"
                if settings.backend == "swarm" else
                f"look at project {settings.stack} in the Container Service console (its events and logs)")
        raise PluginError(f"{message}; {tail}", hint=hint)
    run.summary.append(("outcome", outcome.state))
    raise PluginError(message, hint="rollback is off: the new spec stays in place" if applied.touched else None)


def _attempt(settings: Any, backend: Any, plan: Plan, times: dict[str, float], box: dict[str, Applied]
             ) -> tuple[Applied, Outcome]:
    """apply → wait → gate; never raises for an unhealthy rollout (an Outcome says so)."""
    t = time.monotonic()
    deadline = t + settings.timeout
    try:
        applied = box["applied"] = backend.apply(plan)
        times["apply"] = round(time.monotonic() - t, 2)
        t = time.monotonic()
        outcome = backend.wait(applied, deadline)
        times["wait"] = round(time.monotonic() - t, 2)
    except ApplyError as exc:
        times["apply"] = round(time.monotonic() - t, 2)
        return exc.applied, Outcome("failed", exc.message)
    if outcome.ok and settings.health_url:
        from .health import gate

        t = time.monotonic()
        passed, problem = gate(settings.health_url, settings.health_status, settings.health_body,
                               settings.health_retries, settings.health_interval, deadline)
        times["gate"] = round(time.monotonic() - t, 2)
        if not passed:
            outcome = Outcome("failed", f"health gate {settings.health_url}: {problem}", outcome.services)
    return applied, outcome
