"""Differential test on the real swarm: for every corpus file (../shared/corpus/compose beside the checkout, or
$TAGSHIP_CORPUS_DIR) that ``docker stack config`` (the docker CLI first on PATH, 28.x) accepts, deploy it with
``docker stack deploy`` and with cs-deploy under two stack names and compare what lands on the swarm:
services (their whole spec), networks, configs and secrets. A file docker refuses must be exit 2 from
cs-deploy (never an internal error).

Made deterministic (the lost attempt failed in CI on a ``name: proxy`` network left by the previous file):
- each side deploys its own staged copy, in which every named (non-external) object gets a unique suffix
  (``-a<uid>`` for docker, ``-b<uid>`` for cs-deploy), and every external object a unique ``-x<uid>`` name that
  the test creates first; nothing is shared between files or sides, so no removal has to finish first;
- docker's services are removed before cs-deploy's deploy (ingress ports are per swarm) and cs-deploy's
  submit is retried while swarm is still releasing them;
- on any mismatch the message has cs-deploy's full output.

Normalisations (each one a difference that must exist): the stack name and the name suffixes; ids, versions
and timestamps; network ids → names; the content-hash suffix of cs-deploy's configs/secrets (deliberate: a
new content is a new object) and its ``com.tagship.spec-hash`` label (deliberate: unchanged = untouched);
published ports sorted; a bare ``KEY`` docker passes with no value is left out by cs-deploy (the engine treats
both as unset). Images are not resolved on either side (``--resolve-image never``; cs-deploy cannot reach the
corpus' public registries here and keeps the tag, ``allow_floating``), so no image is pulled. cs-deploy runs
with ``rollback: off`` and a 1 s timeout: its wait fails (the corpus images do not exist here) and the
spec stays for the comparison. Cost: about two minutes on the test bed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

BIN = Path(sys.executable).parent / "cs-deploy"
CORPUS = Path(os.environ.get("TAGSHIP_CORPUS_DIR") or Path(__file__).resolve().parents[3] / "shared/corpus/compose")
FILES = sorted(CORPUS.glob("*.y*ml"))
KINDS = ("networks", "volumes", "configs", "secrets")
NS = "com.docker.stack.namespace"


def _env(home: Path) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    if os.environ.get("DOCKER_HOST"):
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    return env


def stage(src: Path, folder: Path, side: str, uid: str) -> tuple[Path, dict[str, set[str]]]:
    """A copy of ``src`` in ``folder`` with unique object names; returns it and the external names to create."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    text = src.read_text()
    data = yaml.safe_load(text)
    externals: dict[str, set[str]] = {k: set() for k in KINDS}
    changed = False
    for kind in KINDS:
        for key, cfg in list((data.get(kind) or {}).items()):
            if not isinstance(cfg, dict):
                continue
            ext = cfg.get("external")
            if ext:
                base = ext.get("name") if isinstance(ext, dict) and ext.get("name") else cfg.get("name") or key
                name = f"{base}-x{uid}"
                cfg["external"] = True
                cfg["name"] = name
                externals[kind].add(name)
                changed = True
            elif cfg.get("name"):
                cfg["name"] = f"{cfg['name']}-{side}{uid}"
                changed = True
    out = folder / src.name
    out.write_text(yaml.safe_dump(data, sort_keys=False) if changed else text)
    return out, externals


def _create_externals(api, externals: dict[str, set[str]], made: list) -> None:
    for name in sorted(externals["networks"]):
        made.append(("network", api.create_network(name, driver="overlay", scope="swarm")["Id"]))
    for name in sorted(externals["volumes"]):
        made.append(("volume", api.create_volume(name)["Name"]))
    for name in sorted(externals["configs"]):
        made.append(("config", api.create_config(name, b"corpus")["ID"]))
    for name in sorted(externals["secrets"]):
        made.append(("secret", api.create_secret(name, b"corpus")["ID"]))


def _remove_services(api, stack: str) -> None:
    import docker

    for svc in api.services(filters={"label": f"{NS}={stack}"}):
        try:
            api.remove_service(svc["ID"])
        except docker.errors.NotFound:
            pass


def _snapshot(api, stack: str, side: str, uid: str, folder: Path, ipam_declared: bool) -> dict:
    """What the stack put on the swarm, normalised (see the module docstring)."""
    net_names = {n["Id"]: n["Name"] for n in api.networks()}
    services = {}
    for svc in api.services(filters={"label": f"{NS}={stack}"}):
        spec = json.loads(json.dumps(svc["Spec"]))
        spec["Labels"].pop("com.tagship.spec-hash", None)
        task = spec.get("TaskTemplate", {})
        for att in task.get("Networks") or []:
            att["Target"] = net_names.get(att["Target"], att["Target"])
        task["Networks"] = sorted(task.get("Networks") or [], key=lambda a: a["Target"])
        container = task.get("ContainerSpec", {})
        for ref in container.get("Configs") or []:
            ref.pop("ConfigID", None)
            ref["ConfigName"] = re.sub(r"_[0-9a-f]{8}$", "", ref["ConfigName"])
        for ref in container.get("Secrets") or []:
            ref.pop("SecretID", None)
            ref["SecretName"] = re.sub(r"_[0-9a-f]{8}$", "", ref["SecretName"])
        if container.get("Env") is not None:
            container["Env"] = [e for e in container["Env"] if "=" in e] or None
            if container["Env"] is None:
                container.pop("Env")
        endpoint = spec.get("EndpointSpec") or {}
        if endpoint.get("Ports"):
            endpoint["Ports"] = sorted(endpoint["Ports"], key=lambda p: json.dumps(p, sort_keys=True))
        services[spec["Name"]] = spec
    networks = {}
    for net in api.networks(filters={"label": f"{NS}={stack}"}):
        full = api.inspect_network(net["Id"])
        opts = {k: v for k, v in (full.get("Options") or {}).items() if "vxlanid" not in k}
        # subnets swarm picks itself (from its default pool) are compared only where the file sets ipam
        ipam = [c["Subnet"] for c in (full.get("IPAM") or {}).get("Config") or [] if c.get("Subnet") and ipam_declared]
        networks[full["Name"]] = {"Driver": full["Driver"], "Internal": full.get("Internal"),
                                  "Attachable": full.get("Attachable"), "Labels": full.get("Labels"),
                                  "Options": opts, "IPAM": ipam if any(ipam) else None}
    objects = {}
    for kind, listing in (("config", api.configs), ("secret", api.secrets)):
        for obj in listing(filters={"label": f"{NS}={stack}"}):
            name = re.sub(r"_[0-9a-f]{8}$", "", obj["Spec"]["Name"])
            objects[f"{kind} {name}"] = obj["Spec"].get("Labels")
    text = json.dumps({"services": services, "networks": networks, "objects": objects}, sort_keys=True)
    text = text.replace(str(folder), "FOLDER").replace(f"-{side}{uid}", "-N").replace(stack, "STACK")
    return json.loads(text)


def _diff(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{path}.{k}")
        return out
    return [] if a == b else [f"{path}: docker {json.dumps(a)[:200]} != cs-deploy {json.dumps(b)[:200]}"]


@pytest.fixture(scope="module")
def bed(swarm, docker_client, tmp_path_factory):
    uid = uuid.uuid4().hex[:6]
    made: list = []
    stacks: list[str] = []
    yield {"uid": uid, "api": docker_client.api, "made": made, "stacks": stacks,
           "dir": tmp_path_factory.mktemp("corpus-diff")}
    import docker

    api = docker_client.api
    for stack in stacks:
        _remove_services(api, stack)
    deadline = time.monotonic() + 90     # networks/configs stay "in use" until swarm reaps the tasks
    while time.monotonic() < deadline:
        left = [("network", n["Id"]) for s in stacks for n in api.networks(filters={"label": f"{NS}={s}"})]
        left += [("config", o["ID"]) for s in stacks for o in api.configs(filters={"label": f"{NS}={s}"})]
        left += [("secret", o["ID"]) for s in stacks for o in api.secrets(filters={"label": f"{NS}={s}"})]
        left += made
        remaining = []
        for kind, ident in left:
            try:
                getattr(api, f"remove_{kind}")(ident)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                remaining.append((kind, ident))
        made[:] = [m for m in made if m in remaining]
        if not remaining:
            break
        time.sleep(0.5)


def test_corpus_is_there():
    assert len(FILES) >= 100, f"expected the compose corpus in {CORPUS}"


def test_cs_deploy_puts_on_the_swarm_what_docker_stack_deploy_does(bed):
    api, uid = bed["api"], bed["uid"]
    compared, refused, unset, busy, problems = 0, 0, 0, 0, []
    for index, src in enumerate(FILES):
        tag = f"{uid}{index:03d}"
        folder = bed["dir"] / tag
        home = folder / "home"
        home.mkdir(parents=True)
        a_file, externals = stage(src, folder / "a", "a", tag)
        b_file, _ = stage(src, folder / "b", "b", tag)
        config = subprocess.run(["docker", "stack", "config", "-c", str(a_file)], env=_env(home),
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        stack_a, stack_b = f"i10da{tag}", f"i10db{tag}"
        bed["stacks"] += [stack_a, stack_b]       # removed at the end, whatever happens to this file
        cs_env = {**_env(home), "DRONE_WORKSPACE": str(b_file.parent), "PLUGIN_COMPOSE_FILE": b_file.name,
                  "PLUGIN_STACK": stack_b, "PLUGIN_ALLOW_FLOATING": "true", "PLUGIN_ROLLBACK": "off",
                  "PLUGIN_TIMEOUT": "1s", "PLUGIN_MONITOR": "0s", "PLUGIN_LINT": "off",
                  "PLUGIN_POLL_INTERVAL": "0.5s"}
        if config.returncode == 0:
            _create_externals(api, externals, bed["made"])
            for attempt in range(5):
                ref = subprocess.run(["docker", "stack", "deploy", "-c", str(a_file), "--detach=true",
                                      "--resolve-image", "never", stack_a], env=_env(home), capture_output=True,
                                     text=True, timeout=120, stdin=subprocess.DEVNULL)
                if not re.search(r"already in use by service 'i10d", ref.stderr):
                    break          # swarm is still releasing the previous file's ingress ports
                time.sleep(1 + attempt)
            want = _snapshot(api, stack_a, "a", tag, a_file.parent, "ipam" in src.read_text())
            _remove_services(api, stack_a)
        if config.returncode != 0 or ref.returncode != 0:
            # docker refused it: in its loader (stack config), or when deploying (a missing file, no image…,
            # or the engine refusing a spec); cs-deploy must refuse it too: exit 2, or exit 1 where the
            # engine refused (it does the same call)
            why = (config.stderr if config.returncode else ref.stderr).strip()
            if re.search(r"already in use by service '(?!i10d)", why):
                busy += 1        # a port held by a service outside this test (a host difference): not compared
                print(f"not compared: {src.name}: {why.splitlines()[-1][:200]}")
                continue
            refused += 1
            proc = subprocess.run([str(BIN)], env=cs_env, capture_output=True, text=True, timeout=120,
                                  stdin=subprocess.DEVNULL)
            out = proc.stdout + proc.stderr
            _remove_services(api, stack_b)
            engine = config.returncode == 0 and "Error response from daemon" in why
            allowed = (1, 2) if engine else (2,)
            print(f"refused: {src.name}: docker: {why.splitlines()[-1][:150] if why else '?'} | cs-deploy exit "
                  f"{proc.returncode}: {[ln for ln in out.splitlines() if 'ERROR' in ln][:1]}")
            if proc.returncode not in allowed or "Traceback" in out:
                problems.append(f"{src.name}: docker refused it ({why[-300:]}), cs-deploy exit "
                                f"{proc.returncode}:\n{out}")
            continue
        for attempt in range(5):
            proc = subprocess.run([str(BIN)], env=cs_env, capture_output=True, text=True, timeout=120,
                                  stdin=subprocess.DEVNULL)
            out = proc.stdout + proc.stderr
            if not re.search(r"already in use by service 'i10d", out):   # swarm still releasing docker's ports
                break
            _remove_services(api, stack_b)
            time.sleep(1 + attempt)
        got = _snapshot(api, stack_b, "b", tag, b_file.parent, "ipam" in src.read_text())
        _remove_services(api, stack_b)
        if proc.returncode == 2 and re.search(r"\} is not set|Variable (\w+ )?not set", out):
            unset += 1       # deliberate: docker substitutes an empty string, cs-deploy names the variable
            continue
        if proc.returncode not in (0, 1) or "Traceback" in out:
            problems.append(f"{src.name}: docker accepted, cs-deploy exit {proc.returncode}:\n{out}")
            continue
        diffs = _diff(want, got)
        if proc.returncode == 1 and "the engine refused" in out:
            problems.append(f"{src.name}: docker deployed it, the engine refused cs-deploy's spec:\n{out}")
            continue
        if diffs:
            problems.append(f"{src.name}: {len(diffs)} differences:\n  " + "\n  ".join(diffs[:15])
                            + f"\ncs-deploy's output:\n{out}")
            continue
        compared += 1
    print(f"corpus diff: {compared} files identical, {refused} refused by both, {unset} exit 2 for an unset "
          f"variable (docker: empty), {busy} not compared (a port held outside the test)")
    assert not problems, f"{len(problems)} of {len(FILES)} files differ:\n\n" + "\n\n".join(problems)
