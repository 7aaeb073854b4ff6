"""The swarm backend: a compose stack on Docker swarm mode through the Engine API (docker SDK, raw specs).

What ``docker stack deploy`` does (networks, content-named configs/secrets, create-or-update each service with
its current version index, registry auth forwarded) plus what it does not: images pinned to digests, updates
skipped when the spec is unchanged, a wait that fails on rollbacks, and our own rollback to the recorded
previous spec of every service this run touched.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from tagship import log
from tagship.errors import PluginError, SettingsError
from tagship.paths import private_dir, write_private
from tagship.results import read_result

from . import converge
from .backend import Applied, ApplyError, Desired, Outcome, Plan
from .plan import env_map as swarm_spec_labels
from .plan import diff_service, digest_from_result, pinned, removed, split_ref
from . import compose_schema, swarm_checks, swarm_objects
from .swarm_spec import HASH_LABEL, NAMESPACE, content_name, current_view, registry_of, service_spec, want_update_view


class SwarmBackend:
    name = "swarm"

    def __init__(self, settings: Any, run: Any):
        self.s, self.run = settings, run
        self._tmp: str | None = None
        try:
            self.client = self._connect()
            self.api = self.client.api
            try:
                info = self.api.info()
            except Exception as exc:  # docker.errors.DockerException, requests errors
                raise PluginError(f"cannot reach the Docker engine at {self._where()}: {exc}",
                                  hint="check PLUGIN_DOCKER_HOST and the TLS settings") from None
            swarm = info.get("Swarm") or {}
            if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
                raise PluginError(f"the engine at {self._where()} is not a swarm manager "
                                  f"(swarm state: {swarm.get('LocalNodeState') or 'unknown'})",
                                  hint="point PLUGIN_DOCKER_HOST at a manager node (docker swarm init/join)")
        except BaseException:  # the TLS key files never outlive a failed connection
            self._remove_tls()
            raise

    # ------------------------------------------------------------------------------------ connection

    def _where(self) -> str:
        return self.s.docker_host or os.environ.get("DOCKER_HOST") or "the local socket"

    def _pem(self, value: Any, name: str) -> str:
        text = value.get_secret_value()
        if "-----BEGIN" not in text and Path(text).is_file():
            return text
        if self._tmp is None:
            self._tmp = str(private_dir("cs-deploy-tls-"))
        return str(write_private(self._tmp, name, text))

    def _remove_tls(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _connect(self) -> Any:
        import docker

        tls = None
        if self.s.tls_ca or self.s.tls_cert:
            cert = (self._pem(self.s.tls_cert, "cert.pem"), self._pem(self.s.tls_key, "key.pem")) \
                if self.s.tls_cert else None
            ca = self._pem(self.s.tls_ca, "ca.pem") if self.s.tls_ca else None
            tls = docker.tls.TLSConfig(client_cert=cert, ca_cert=ca, verify=ca or False)
        try:
            if self.s.docker_host:
                return docker.DockerClient(base_url=self.s.docker_host, tls=tls or False, timeout=60)
            return docker.from_env(timeout=60)
        except docker.errors.DockerException as exc:
            raise PluginError(f"cannot reach the Docker engine at {self._where()}: {exc}",
                              hint="check PLUGIN_DOCKER_HOST and that tls_ca/tls_cert/tls_key belong to that "
                                   "engine's CA") from None

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self._remove_tls()

    def _auth(self, image: str) -> dict[str, str] | None:
        import docker

        registry = registry_of(image)
        if self.s.registry_username:
            return {"username": self.s.registry_username,
                    "password": self.s.registry_password.get_secret_value() if self.s.registry_password else "",
                    "serveraddress": registry}
        return docker.auth.resolve_authconfig(self.api._auth_configs, registry)

    def _headers(self, image: str) -> dict[str, str]:
        import docker

        auth = self._auth(image)
        return {"X-Registry-Auth": docker.auth.encode_header(auth)} if auth else {}

    # ------------------------------------------------------------------------------------------ plan

    def _pin(self, desired: Desired) -> None:
        import docker

        result = read_result(self.run.workspace, "registry-push")
        for want in desired.services.values():
            if split_ref(want.image)[1] is None and split_ref(want.image)[2] is None:
                want.image = f"{want.image}:latest"      # as docker/cli names an untagged image
            image = want.image
            if split_ref(image)[2]:
                continue
            digest = digest_from_result(image, result)
            source = "registry-push result"
            if digest is None:
                source = "registry"
                try:
                    found = self.api.inspect_distribution(image, auth_config=self._auth(image))
                    digest = found["Descriptor"]["digest"]
                except docker.errors.APIError as exc:
                    if self.s.allow_floating:
                        log.warn(f"{want.name}: cannot resolve {image} to a digest ({exc.explanation}); "
                                 "deploying the tag as is (allow_floating)")
                        continue
                    raise PluginError(f"{want.name}: cannot resolve {image} to a digest: {exc.explanation}",
                                      hint="push the image first (registry-push), check registry_username/"
                                           "registry_password, or set allow_floating: true") from None
            want.image = pinned(image, digest)
            log.info(f"{want.name}: {image} → {digest} (from the {source})")

    def _existing(self, stack: str) -> dict[str, dict[str, Any]]:
        services = self.api.services(filters={"label": f"{NAMESPACE}={stack}"})
        prefix = f"{stack}_"
        return {s["Spec"]["Name"][len(prefix):]: s for s in services if s["Spec"]["Name"].startswith(prefix)}

    def _objects(self, desired: Desired, kind: str) -> dict[str, tuple[str, str, bytes | None]]:
        """Top-level configs/secrets → (compose name → (id or '', swarm name, data or None if external))."""
        out = {}
        base = (self.run.workspace / self.s.compose_file).parent
        for key, obj in swarm_objects.table(desired.compose, desired.stack)[kind].items():
            cfg = obj.cfg
            if obj.external:
                out[key] = ("", obj.name, None)
                continue
            if not cfg.get("file"):
                raise SettingsError(f"PLUGIN_COMPOSE_FILE: {kind}.{key}: needs file: (or external: true)")
            path = (base / cfg["file"]).resolve()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SettingsError(f"PLUGIN_COMPOSE_FILE: {kind}.{key}: cannot read {cfg['file']}: "
                                    f"{exc.strerror or exc}") from None
            if kind == "secrets":
                self.run.secret(data.decode(errors="replace").strip())
            out[key] = ("", obj.name if obj.named else content_name(desired.stack, key, data), data)
        return out

    def plan(self, desired: Desired) -> Plan:
        objs = swarm_objects.table(desired.compose, desired.stack)
        problems = compose_schema.problems(desired.compose) + swarm_objects.undeclared(desired.compose, objs)
        if problems:
            raise SettingsError([f"PLUGIN_COMPOSE_FILE: {p}" for p in problems])
        swarm_checks.warn_unsupported(desired)
        swarm_checks.check_externals(self.api, desired, objs)
        self._pin(desired)
        from .preflight import run as preflight

        self.run.result["preflight"] = [f.message for f in preflight(
            self.api, {n: w.image for n, w in desired.services.items()}, self._auth, self.s.preflight)]
        existing = self._existing(desired.stack)
        networks = {key: obj.name for key, obj in objs["networks"].items()}
        configs, secrets = self._objects(desired, "configs"), self._objects(desired, "secrets")
        base = (self.run.workspace / self.s.compose_file).parent
        specs, diffs = {}, []
        for name, want in desired.services.items():
            try:
                spec = service_spec(desired.stack, want, objs, {k: v[:2] for k, v in configs.items()},
                                    {k: v[:2] for k, v in secrets.items()}, base)
            except ValueError as exc:
                raise SettingsError(f"PLUGIN_COMPOSE_FILE: services.{name}: {exc}") from None
            specs[name] = spec
            current = existing.get(name)
            cur_view = current_view(name, current["Spec"]) if current else None
            want_view = type(want)(**{**want.__dict__, "update_config": want_update_view(want)})
            d = diff_service(name, cur_view, want_view, desired.secret_names)
            if current is not None:
                same = (current["Spec"].get("Labels") or {}).get(HASH_LABEL) == spec["Labels"][HASH_LABEL]
                if same:
                    d.action, d.changes = "unchanged", []
                elif d.action == "unchanged":
                    from .backend import Change

                    d.action = "update"
                    d.changes.append(Change("spec", "(current)", "other settings changed (command, healthcheck, "
                                                                 "labels, mounts, networks…)"))
            diffs.append(d)
        if self.s.prune:
            diffs += removed(existing, desired.services)
        notes = [] if existing else [f"stack {desired.stack} does not exist yet; it will be created"]
        state = {"existing": existing, "specs": specs, "networks": networks, "configs": configs,
                 "secrets": secrets, "objs": objs}
        return Plan(desired, diffs, notes, state)

    # ----------------------------------------------------------------------------------------- apply

    def _ensure_networks(self, plan: Plan) -> None:
        """Create the used, non-external networks that do not exist yet (docker/cli convert.Networks)."""
        stack = plan.desired.stack
        for key in sorted(swarm_objects.used(plan.desired.compose, "networks")):
            obj = plan.state["objs"]["networks"][key]
            if obj.external or [n for n in self.api.networks(names=[obj.name]) if n["Name"] == obj.name]:
                continue
            cfg = obj.cfg
            ipam = None
            if cfg.get("ipam"):
                import docker

                pools = [docker.types.IPAMPool(subnet=c.get("subnet")) for c in cfg["ipam"].get("config") or []]
                ipam = docker.types.IPAMConfig(driver=cfg["ipam"].get("driver") or "default", pool_configs=pools)
            labels = {str(k): str(v) for k, v in swarm_spec_labels(cfg.get("labels")).items()}
            self.api.create_network(obj.name, driver=cfg.get("driver") or "overlay",   # no scope, as docker
                                    labels={**labels, NAMESPACE: stack}, attachable=bool(cfg.get("attachable")),
                                    internal=bool(cfg.get("internal")), ipam=ipam,
                                    options={str(k): str(v) for k, v in (cfg.get("driver_opts") or {}).items()}
                                    or None)
            log.info(f"network {obj.name} created")

    def _ensure_objects(self, plan: Plan, kind: str) -> dict[str, tuple[str, str]]:
        ids = {}
        listing = self.api.configs if kind == "configs" else self.api.secrets
        create = self.api.create_config if kind == "configs" else self.api.create_secret
        for key, (_, name, data) in plan.state[kind].items():
            found = [o for o in listing(filters={"name": name}) if o["Spec"]["Name"] == name]
            if found:
                ids[key] = (found[0]["ID"], name)
            elif data is None:
                raise PluginError(f"external {kind[:-1]} {name} does not exist")
            else:
                made = create(name, data, labels={NAMESPACE: plan.desired.stack})
                ids[key] = (made["ID"], name)
                log.info(f"{kind[:-1]} {name} created")
        return ids

    def _submit(self, name: str, spec: dict[str, Any], current: dict[str, Any] | None) -> None:
        """Create, or update with the current version index (refetched once if it moved meanwhile)."""
        import docker

        headers = self._headers(spec["TaskTemplate"]["ContainerSpec"]["Image"])
        if current is None:
            resp = self.api._post_json(self.api._url("/services/create"), data=spec, headers=headers)
            self.api._result(resp, json=True)
            return
        for attempt in range(3):
            spec["TaskTemplate"]["ForceUpdate"] = current["Spec"]["TaskTemplate"].get("ForceUpdate", 0)
            url = self.api._url("/services/{0}/update", current["ID"])
            resp = self.api._post_json(url, data=spec, params={"version": current["Version"]["Index"]},
                                       headers=headers)
            try:
                result = self.api._result(resp, json=True)
                for warning in (result or {}).get("Warnings") or []:
                    log.warn(f"{name}: {warning}")
                return
            except docker.errors.APIError as exc:
                if "out of sequence" not in str(exc) or attempt == 2:
                    raise
                current = self.api.inspect_service(current["ID"])

    def apply(self, plan: Plan) -> Applied:
        import docker

        applied = Applied(plan=plan, started=time.monotonic(), state={"ids": {}})
        try:
            self._ensure_networks(plan)
            configs = self._ensure_objects(plan, "configs")
            secrets = self._ensure_objects(plan, "secrets")
            for diff in plan.diffs:
                if diff.action not in ("create", "update"):
                    continue
                name = diff.service
                spec = _fill_ids(plan.state["specs"][name], configs, secrets)
                current = plan.state["existing"].get(name)
                if current is not None:
                    current = self.api.inspect_service(current["ID"])
                    applied.previous[name] = current["Spec"]
                log.info(f"{name}: {'updating' if current else 'creating'} {spec['Name']} → "
                         f"{spec['TaskTemplate']['ContainerSpec']['Image']}")
                self._submit(name, spec, current)
                applied.touched.append(name)
                if current is None:
                    applied.created.append(name)
        except docker.errors.APIError as exc:
            raise ApplyError(f"the engine refused the change: {exc.explanation or exc}", applied) from None
        except docker.errors.DockerException as exc:
            raise ApplyError(f"talking to the engine failed: {exc}", applied) from None
        return applied

    # ---------------------------------------------------------------------------------- wait & undo

    def _fetch(self, stack: str):
        def fetch(name: str):
            service = self.api.inspect_service(f"{stack}_{name}")
            tasks = self.api.tasks(filters={"service": service["ID"], "_up-to-date": "true"})
            return service, tasks
        return fetch

    def _nodes(self) -> tuple[set[str], int, dict[str, str]]:
        """Nodes not ready (their tasks do not count), ready+active nodes, and node ID → hostname."""
        nodes = self.api.nodes()
        down = {n["ID"] for n in nodes if (n.get("Status") or {}).get("State") != "ready"}
        active = sum(1 for n in nodes if n["ID"] not in down
                     and (n.get("Spec") or {}).get("Availability", "active") == "active")
        return down, active, {n["ID"]: (n.get("Description") or {}).get("Hostname") or n["ID"][:12] for n in nodes}

    def wait(self, applied: Applied, deadline: float) -> Outcome:
        if not applied.touched:
            return Outcome("converged", "nothing changed")
        return converge.wait_for(applied.touched, self._fetch(applied.plan.desired.stack), self._nodes,
                                 deadline, self.s.monitor, self.s.poll_interval, log.info)

    def rollback(self, applied: Applied, deadline: float) -> Outcome:
        import docker

        stack = applied.plan.desired.stack
        back: list[str] = []
        errors: list[str] = []
        for name in applied.touched:
            try:
                if name in applied.created:
                    self.api.remove_service(f"{stack}_{name}")
                    log.info(f"{name}: removed (it was created by this run)")
                    continue
                previous = applied.previous[name]
                current = self.api.inspect_service(f"{stack}_{name}")
                if current["Spec"] != previous:
                    log.info(f"{name}: back to {previous['TaskTemplate']['ContainerSpec'].get('Image')}")
                    self._submit(name, dict(previous), current)
                else:
                    log.info(f"{name}: already on its previous spec (swarm rolled it back)")
                back.append(name)
            except docker.errors.DockerException as exc:
                errors.append(f"{name}: {getattr(exc, 'explanation', None) or exc}")
        if errors:
            return Outcome("rollback-failed", "; ".join(errors))
        if not back:
            return Outcome("rolled-back", "created services removed")
        out = converge.wait_for(back, self._fetch(stack), self._nodes, deadline, self.s.monitor,
                                self.s.poll_interval, log.info, rolling_back=True)
        out.state = "rolled-back" if out.state == "converged" else "rollback-failed"
        return out

    def finish(self, applied: Applied) -> None:
        """After success: prune removed services (opt-in), then drop unreferenced old configs/secrets."""
        stack = applied.plan.desired.stack
        for diff in applied.plan.diffs:
            if diff.action == "remove":
                self.api.remove_service(f"{stack}_{diff.service}")
                applied.removed.append(diff.service)
                log.info(f"{diff.service}: removed (prune; no longer in the compose file)")
        self._gc(applied.plan)

    def _gc(self, plan: Plan) -> None:
        import docker

        stack = plan.desired.stack
        for kind, listing, remove in (("configs", self.api.configs, self.api.remove_config),
                                      ("secrets", self.api.secrets, self.api.remove_secret)):
            keep = {name for _, name, _ in plan.state[kind].values()}
            for obj in listing(filters={"label": f"{NAMESPACE}={stack}"}):
                if obj["Spec"]["Name"] in keep:
                    continue
                try:
                    remove(obj["ID"])
                    log.info(f"old {kind[:-1]} {obj['Spec']['Name']} removed")
                except docker.errors.APIError:
                    pass  # still used (e.g. by a service outside this file): keep it


def _fill_ids(spec: dict[str, Any], configs: dict[str, tuple[str, str]],
              secrets: dict[str, tuple[str, str]]) -> dict[str, Any]:
    container = spec["TaskTemplate"]["ContainerSpec"]
    by_name = {name: oid for oid, name in list(configs.values()) + list(secrets.values())}
    for ref in container.get("Configs", []):
        ref["ConfigID"] = by_name[ref["ConfigName"]]
    for ref in container.get("Secrets", []):
        ref["SecretID"] = by_name[ref["SecretName"]]
    return spec
