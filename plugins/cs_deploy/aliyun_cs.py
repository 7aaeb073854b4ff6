"""The aliyun-cs backend: a compose "project" on a legacy Aliyun Container Service (swarm edition) cluster.

The OpenAPI (AccessKey, ROA) gives the cluster's master URL and its client certificates; those go to a 0700
temporary directory (files 0600) removed on close or exit. The master is reached over mutual TLS, verified
against the cluster CA (never ``verify=False``; the CA is passed per request, so a runner's
``REQUESTS_CA_BUNDLE`` cannot replace it). Projects API: research/cs-deploy.md §1.

- plan: ``GET /projects/{name}`` (404 → create); per-service diff of the stored template vs the rendered one, plus
  the project version and environment. The project ``environment`` is the step's own variables
  (``environment``, ``env_from``, ``VERSION``), not the Drone ones (they change every build).
- apply: create (201), or update (202) with template, version (must change: CS answers 409 otherwise, explained
  before any call), environment, ``update_method``. A dangling unconfirmed blue-green release ("Conflicts with
  unconfirmed updates for operation") is rolled back first, then the update is re-posted.
- wait: ``current_state`` running with every service of the template on the new version (rolling: and no
  service left on another version), stable for ``monitor``; ``failed`` or the deadline end it.
- finish: blue-green → ``confirm-update?force=true``. rollback: blue-green → ``rollback-update?force=true``;
  rolling → re-post the previous template + environment with the previous version + ``-rollback.N``; a project
  this run created is deleted.
"""

from __future__ import annotations

import atexit
import contextlib
import time
from typing import Any

import yaml

from tagship import aliyun, log
from tagship.errors import PluginError, SettingsError
from tagship.retry import RetryPolicy, retrying

from .backend import Applied, ApplyError, Change, Desired, Outcome, Plan, ServiceDiff, ServiceOutcome
from .plan import diff_service, service_wants

UNCONFIRMED = "Conflicts with unconfirmed updates"
INJECTED = {"COMPOSE_PROJECT_NAME", "ACS_PROJECT_VERSION", "ACS_DEFAULT_DOMAIN"}  # the server adds these
_DRONE = ("DRONE_", "CI_")


class MasterError(PluginError):
    def __init__(self, message: str, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.status = status


class AliyunCSBackend:
    name = "aliyun-cs"

    def __init__(self, settings: Any, run: Any, *, policy: RetryPolicy | None = None):
        import requests

        self.settings, self.run = settings, run
        self.policy = policy or RetryPolicy(attempts=4, deadline=60)
        self.project = settings.stack
        self.attempts = 0
        self._exit = contextlib.ExitStack()
        atexit.register(self.close)
        client = aliyun.openapi_client(settings.access_key_id, settings.access_key_secret, settings.region)
        self.master_url, certs = aliyun.cluster_master(client, settings.cluster_id, region=settings.region,
                                                       api_endpoint=settings.api_endpoint, policy=self.policy)
        self.master_url = self.master_url.rstrip("/")
        self.cert_dir = self._exit.enter_context(aliyun.cert_dir(certs, prefix="tagship-cs-"))
        self.session = self._exit.enter_context(requests.Session())
        self.session.cert = (str(self.cert_dir / "cert.pem"), str(self.cert_dir / "key.pem"))
        self.verify = str(self.cert_dir / "ca.pem")
        log.info(f"aliyun-cs: cluster {settings.cluster_id} master {self.master_url} (mutual TLS)")

    # --- the master over mutual TLS ------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> tuple[int, Any]:
        import requests

        url = self.master_url + path

        def once() -> tuple[int, Any]:
            try:
                resp = self.session.request(method, url, json=body, verify=self.verify, timeout=(10, 60))
            except requests.exceptions.SSLError as exc:
                raise MasterError(f"TLS with the cluster master {self.master_url} failed: {_first(exc)}",
                                  hint="the cluster certificates may have been rotated: download them again in "
                                       "the Container Service console, then re-run") from None
            except requests.exceptions.RequestException as exc:
                raise _Transient(f"{method} {path}: {_first(exc)}") from None
            try:
                data = resp.json() if resp.content else None
            except ValueError:
                data = resp.text
            if resp.status_code in (429, 502, 503, 504) or (resp.status_code >= 500 and method == "GET"):
                raise _Transient(f"{method} {path}: HTTP {resp.status_code} {_message(data)}")
            if resp.status_code not in ok:
                raise MasterError(f"{method} {path}: HTTP {resp.status_code} {_message(data)}", resp.status_code)
            return resp.status_code, data

        try:
            for attempt in retrying(lambda e: isinstance(e, _Transient), self.policy, f"{method} {path}"):
                with attempt:
                    self.attempts = attempt.retry_state.attempt_number
                    return once()
        except _Transient as exc:
            raise PluginError(f"the cluster master kept failing: {exc}",
                              hint="check the cluster's state in the Container Service console") from None
        raise AssertionError("unreachable")

    def _get(self) -> dict | None:
        try:
            return self._request("GET", f"/projects/{self.project}")[1]
        except MasterError as exc:
            if exc.status == 404:
                return None
            raise

    # --- the interface -------------------------------------------------------------------------------------
    def plan(self, desired: Desired) -> Plan:
        version = desired.version or self.settings.version
        if not version:
            raise SettingsError("PLUGIN_VERSION: required with backend aliyun-cs (each update needs a new "
                                "project version); set it or deploy from a tag")
        env = project_env(desired.environment)
        current = self._get()
        state = {"version": version, "environment": env, "current": current}
        if current is None:
            diffs = [ServiceDiff(n, "create", [Change("image", None, w.image)], None, w.image)
                     for n, w in desired.services.items()]
            return Plan(desired, diffs, [f"project {self.project} does not exist yet; it will be created at "
                                         f"version {version}"], state)
        try:
            old_compose = yaml.safe_load(current.get("template") or "") or {}
        except yaml.YAMLError:
            old_compose = {}
        old = service_wants(_as_v3(old_compose), {}) if isinstance(old_compose, dict) else {}
        diffs = [diff_service(n, old.get(n), w, desired.secret_names) for n, w in desired.services.items()]
        diffs += [ServiceDiff(n, "remove") for n in sorted(set(old) - set(desired.services))]
        notes = [f"project {self.project}: {current.get('current_state')}, version {current.get('version')}"]
        old_env = project_env(current.get("environment") or {})
        env_changes = sorted(k for k in set(old_env) | set(env) if old_env.get(k) != env.get(k))
        if env_changes:
            notes.append("environment changes: " + ", ".join(env_changes))
        same = (current.get("template") == desired.template and not env_changes)
        running = str(current.get("current_state") or "").lower() == "running"
        if str(current.get("version")) == version:
            if not same:
                state["conflict"] = (f"project {self.project} is already at version {version} with another "
                                     "template or environment, and Container Service refuses an update with an "
                                     "unchanged version (HTTP 409)")
            elif not running:
                state["conflict"] = (f"project {self.project} is {current.get('current_state')} at version "
                                     f"{version}; redeploying needs a new version (an unchanged one gets HTTP 409)")
            notes.append(state.get("conflict") or f"version {version} is already deployed and running")
            if same and running:
                diffs = [ServiceDiff(d.service, "unchanged") for d in diffs]
            else:   # something must change (so apply runs and explains the 409), even if no service differs
                diffs = [d if d.action != "unchanged" else ServiceDiff(
                    d.service, "update", [Change("project", f"{current.get('current_state')} {version}",
                                                 f"redeploy {version}")], d.old_image, d.new_image) for d in diffs]
        else:
            notes.append(f"version {current.get('version')} → {version} ({self.settings.update_method})")
            if all(d.action == "unchanged" for d in diffs):  # CS redeploys on a new version all the same
                diffs = [ServiceDiff(d.service, "update", [Change("version", current.get("version"), version)],
                                     d.old_image, d.new_image) for d in diffs]
        return Plan(desired, diffs, notes, state)

    def apply(self, plan: Plan) -> Applied:
        st = plan.state
        applied = Applied(plan, started=time.monotonic(), state={"version": st["version"]})
        names = list(plan.desired.services)
        if st.get("conflict"):
            raise PluginError(st["conflict"], hint="set PLUGIN_VERSION (VERSION) to a new value for every deploy, e.g. the tag "
                                   "or ${DRONE_BUILD_NUMBER}-${DRONE_COMMIT_SHA:0:7}")
        if not plan.changed:
            applied.state["noop"] = True
            log.ok(f"project {self.project} is already at version {st['version']}; nothing to do")
            return applied
        body = {"template": plan.desired.template, "version": st["version"], "environment": st["environment"],
                "latest_image": True}
        if st["current"] is None:
            self._request("POST", "/projects/", dict(body, name=self.project,
                                                     description="deployed by tagship cs-deploy"), ok=(201,))
            applied.touched, applied.created = names, list(names)
            applied.state["op"] = "create"
            log.info(f"created project {self.project} at version {st['version']}")
            return applied
        cur = st["current"]
        applied.previous = {"template": cur.get("template"), "version": str(cur.get("version")),
                            "environment": project_env(cur.get("environment") or {})}
        blue_green = self.settings.update_method == "blue-green"
        if blue_green:
            body["update_method"] = "blue-green"
        applied.state["op"] = "blue-green" if blue_green else "rolling"
        try:
            self._post_update(body, applied)
        except PluginError as exc:
            raise ApplyError(exc.message, applied, exc.hint) from None
        applied.touched = names
        log.info(f"updating project {self.project}: version {cur.get('version')} → {st['version']} "
                 f"({applied.state['op']})")
        return applied

    def _post_update(self, body: dict, applied: Applied) -> None:
        path = f"/projects/{self.project}/update"
        try:
            self._request("POST", path, body, ok=(202, 200))
        except MasterError as exc:
            if exc.status == 409 and UNCONFIRMED in exc.message:
                log.warn(f"project {self.project} has an unconfirmed blue-green release left by an earlier run; "
                         "rolling it back first")
                self._request("POST", f"/projects/{self.project}/rollback-update?force=true", ok=(202, 200))
                out = self._wait_for(lambda p: _settled(p, None, rolling=False), time.monotonic() + self.settings.timeout)
                if not out.ok:
                    raise PluginError(f"clearing the unconfirmed release of {self.project} failed: {out.message}")
                cur = self._get() or {}      # what a rollback of this run must go back to is now this one
                applied.previous = {"template": cur.get("template"), "version": str(cur.get("version")),
                                    "environment": project_env(cur.get("environment") or {})}
                self._request("POST", path, body, ok=(202, 200))
            elif exc.status == 409 and self.attempts > 1 and (self._get() or {}).get("version") == body["version"]:
                return  # our own first try had gone through before the connection broke
            elif exc.status == 409:
                raise PluginError(f"Container Service refused the update of {self.project}: {exc.message}",
                                  hint="an unchanged version, or another update still running; set a new "
                                       "PLUGIN_VERSION or wait for the other deploy") from None
            else:
                raise

    def wait(self, applied: Applied, deadline: float) -> Outcome:
        applied.state = applied.state or {}
        if applied.state.get("noop"):
            return Outcome("skipped", "nothing changed")
        version = applied.state["version"]
        rolling = applied.state.get("op") != "blue-green"
        return self._wait_for(lambda p: _settled(p, version, rolling=rolling, names=applied.plan.desired.services),
                              deadline, stable=self.settings.monitor)

    def finish(self, applied: Applied) -> None:
        if (applied.state or {}).get("op") != "blue-green":
            return
        self._request("POST", f"/projects/{self.project}/confirm-update?force=true", ok=(202, 200))
        log.ok(f"confirmed the blue-green release {applied.state['version']} of {self.project}")

    def rollback(self, applied: Applied, deadline: float) -> Outcome:
        applied.state = applied.state or {}
        op = applied.state.get("op")
        if op is None or applied.state.get("noop"):
            return Outcome("skipped", "nothing was changed")
        if op == "create":
            self._request("DELETE", f"/projects/{self.project}?force=true", ok=(200, 202, 204, 404))
            log.warn(f"deleted project {self.project}, which this run had created")
            return Outcome("rolled-back", f"project {self.project} (created by this run) deleted")
        prev = applied.previous
        if op == "blue-green":
            self._request("POST", f"/projects/{self.project}/rollback-update?force=true", ok=(202, 200))
            target = prev["version"]
        else:
            out = self._wait_for(lambda p: _not_updating(p), deadline)  # CS refuses an update while one runs
            current = self._get() or {}
            if out.state == "timeout":
                return Outcome("rollback-failed", f"the failed update is still running: {out.message}")
            target = rollback_version(prev["version"], str(current.get("version") or ""))
            self._request("POST", f"/projects/{self.project}/update",
                          {"template": prev["template"], "version": target, "environment": prev["environment"],
                           "latest_image": True}, ok=(202, 200))
        log.warn(f"rolling project {self.project} back to version {target}")
        out = self._wait_for(lambda p: _settled(p, target, rolling=True), deadline)
        return Outcome("rolled-back" if out.ok else "rollback-failed",
                       f"back on version {target}" if out.ok else out.message, out.services, out.seconds)

    def close(self) -> None:
        self._exit.close()

    # --- polling ---------------------------------------------------------------------------------------------
    def _wait_for(self, check: Any, deadline: float, stable: float = 0.0) -> Outcome:
        start, since, last = time.monotonic(), None, None
        while True:
            project = self._get() or {}
            verdict, message, services = check(project)
            if message != last:
                log.info(f"project {self.project}: {message}")
                last = message
            now = time.monotonic()
            if verdict == "failed":
                return Outcome("failed", message, services, now - start)
            if verdict == "ok":
                since = since or now
                if now - since >= stable:
                    return Outcome("converged", message, services, now - start)
            else:
                since = None
            if now >= deadline:
                return Outcome("timeout", f"not converged in time: {message}", services, now - start)
            time.sleep(max(0.0, min(self.settings.poll_interval, deadline - now)))


def _settled(project: dict, version: str | None, *, rolling: bool, names: Any = None) -> tuple[str, str, dict]:
    """("ok" | "failed" | "wait", why, per-service outcomes) for one look at the project."""
    state = str(project.get("current_state") or "unknown").lower()
    services = project.get("services") or []
    want = str(version or project.get("version"))
    outcomes = {}
    for s in services:
        key = str(s.get("name"))
        if str(s.get("version")) == want or key not in outcomes:
            outcomes[key] = ServiceOutcome(key, str(s.get("current_state") or "unknown").lower(),
                                           message=f"version {s.get('version')}")
    if state == "failed":
        bad = [f"{s.get('name')} ({s.get('current_state')})" for s in services
               if str(s.get("current_state", "")).lower() not in ("running",)]
        return "failed", f"state failed; services not running: {', '.join(bad) or 'none listed'}", outcomes
    if str(project.get("version")) != want:
        return "wait", f"{state}, project at version {project.get('version')}, want {want}", outcomes
    expected = set(names or []) or {str(s.get("name")) for s in services}
    fresh = {str(s.get("name")) for s in services
             if str(s.get("version")) == want and str(s.get("current_state", "")).lower() == "running"}
    stale = [f"{s.get('name')} still on {s.get('version')}" for s in services if str(s.get("version")) != want]
    missing = sorted(expected - fresh)
    if state == "running" and not missing and not (rolling and stale):
        return "ok", f"running, every service on version {want}", outcomes
    waiting = [f"{n} on {want}" for n in missing] + (stale if rolling else [])
    return "wait", f"{state}; waiting for " + ", ".join(waiting or ["the project to run"]), outcomes


def _not_updating(project: dict) -> tuple[str, str, dict]:
    state = str(project.get("current_state") or "unknown").lower()
    return ("wait" if state == "updating" else "ok"), f"{state} (before the rollback)", {}


def project_env(environment: dict) -> dict[str, str]:
    """The project's own variables: no Drone/Woodpecker ones, none the server injects."""
    return {str(k): str(v) for k, v in (environment or {}).items()
            if k not in INJECTED and not str(k).startswith(_DRONE)}


def rollback_version(previous: str, current: str) -> str:
    """The version a rolling rollback posts: the previous one plus ``-rollback.N``, never the current one."""
    base = previous.split("-rollback.")[0]
    head, _, n = current.rpartition("-rollback.")
    return f"{base}-rollback.{int(n) + 1 if head == base and n.isdigit() else 1}"


def _as_v3(compose: dict) -> dict:
    """A v1 compose file (services at the top level, as many CS templates are) seen as ``services:``."""
    if isinstance(compose.get("services"), dict):
        return compose
    return {"services": {k: v for k, v in compose.items() if isinstance(v, dict) and k not in ("networks", "volumes")}}


class _Transient(Exception):
    pass


def _message(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message") or data.get("Message") or data)
    return str(data or "")[:300]


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
