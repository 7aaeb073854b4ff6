"""``tagship exec [PIPELINE.yml]``: try a ``.drone.yml`` locally, each step a container on the local engine.

A try-out runner, not Drone: in production Drone runs the pipeline. It does what drone-runner-docker does
for a step — the same substitution and settings encoding (``tagship.pipeline.drone_yaml``), ``from_secret`` values from
a dotenv secrets file, the ``DRONE_*`` context of a tag (or push) event from the workspace's git — and runs
the steps in order with the workspace at ``/drone/src``, stopping at the first failure with its exit code.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Mapping, Sequence

from .. import log, mask
from .drone_yaml import Pipeline, PipelineError, Step, env_problems, parse, plugin_env, runs

WORKSPACE = "/drone/src"
SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$"


def read_dotenv(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``export`` and quotes allowed, ``#`` comments): the secrets file."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{n}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _git(workspace: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(workspace), *args],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def semver_env(tag: str) -> dict[str, str]:
    """``DRONE_SEMVER*`` as runner-go sets them: one leading ``v`` removed; only ``_ERROR`` when it does not parse."""
    import re

    m = re.match(SEMVER, tag[1:] if tag.startswith("v") else tag)
    if not m:
        return {"DRONE_SEMVER_ERROR": f"{tag} is not in dotted-tri format"}
    env = {"DRONE_SEMVER": m.group(0), "DRONE_SEMVER_MAJOR": m.group(1), "DRONE_SEMVER_MINOR": m.group(2),
           "DRONE_SEMVER_PATCH": m.group(3), "DRONE_SEMVER_SHORT": ".".join(m.group(1, 2, 3))}
    if m.group(4):
        env["DRONE_SEMVER_PRERELEASE"] = m.group(4)
    if m.group(5):
        env["DRONE_SEMVER_BUILD"] = m.group(5)
    return env


def drone_context(workspace: Path, tag: str | None, event: str | None, branch: str | None,
                  repo: str | None) -> dict[str, str]:
    """The ``DRONE_*`` variables of a build of ``workspace``'s HEAD (tag event when ``tag`` is given)."""
    sha = _git(workspace, "rev-parse", "HEAD")
    branch = branch or _git(workspace, "rev-parse", "--abbrev-ref", "HEAD") or "main"
    if branch == "HEAD":
        branch = "main"
    event = event or ("tag" if tag else "push")
    remote = _git(workspace, "remote", "get-url", "origin")
    repo = repo or _repo_name(remote) or f"local/{workspace.resolve().name}"
    owner, _, name = repo.partition("/")
    ref = f"refs/tags/{tag}" if tag else f"refs/heads/{branch}"
    now = str(int(time.time()))
    env = {
        "CI": "true", "DRONE": "true", "DRONE_BUILD_EVENT": event, "DRONE_BUILD_NUMBER": "1",
        "DRONE_BUILD_CREATED": now, "DRONE_BUILD_STARTED": now, "DRONE_BUILD_STATUS": "success",
        "DRONE_BUILD_TRIGGER": "@tagship-exec", "DRONE_COMMIT": sha, "DRONE_COMMIT_SHA": sha,
        "DRONE_COMMIT_REF": ref, "DRONE_COMMIT_BRANCH": branch, "DRONE_BRANCH": branch,
        "DRONE_REPO_BRANCH": branch, "DRONE_COMMIT_MESSAGE": _git(workspace, "log", "-1", "--format=%B"),
        "DRONE_COMMIT_AUTHOR": _git(workspace, "log", "-1", "--format=%an"),
        "DRONE_COMMIT_AUTHOR_NAME": _git(workspace, "log", "-1", "--format=%an"),
        "DRONE_COMMIT_AUTHOR_EMAIL": _git(workspace, "log", "-1", "--format=%ae"),
        "DRONE_REPO": repo, "DRONE_REPO_OWNER": owner, "DRONE_REPO_NAMESPACE": owner,
        "DRONE_REPO_NAME": name or owner, "DRONE_REMOTE_URL": remote, "DRONE_GIT_HTTP_URL": remote,
        "DRONE_WORKSPACE": WORKSPACE, "DRONE_STAGE_KIND": "pipeline", "DRONE_STAGE_TYPE": "docker",
        "DRONE_SYSTEM_HOST": "localhost", "DRONE_SYSTEM_HOSTNAME": "localhost", "DRONE_SYSTEM_PROTO": "http",
        "DRONE_SYSTEM_VERSION": "tagship-exec",
    }
    if tag:
        env["DRONE_TAG"] = tag
        env.update(semver_env(tag))
    return {k: v for k, v in env.items() if v is not None}


def _repo_name(remote: str) -> str:
    if not remote:
        return ""
    path = remote.rstrip("/").removesuffix(".git").replace(":", "/").split("/")
    return "/".join(path[-2:]) if len(path) >= 2 else ""


def _script(commands: Sequence[str]) -> str:
    """What drone-runner-docker runs for ``commands:``: ``set -e`` and each command echoed as ``+ cmd``."""
    lines = ["set -e"]
    for cmd in commands:
        lines.append(f"echo {shlex.quote('+ ' + cmd)}")
        lines.append(cmd)
    return "\n".join(lines) + "\n"


def docker_args(step: Step, env_names: Sequence[str], workspace: Path, network: str, name: str) -> list[str]:
    """The ``docker run`` command line for a step (env values come from our environment, never argv)."""
    args = ["docker", "run", "--rm", "--name", name, "--pull", "never", "--network", network,
            "-v", f"{workspace.resolve()}:{WORKSPACE}", "-w", WORKSPACE,
            "--label", "tagship.exec=1"]
    for host, path in step.volumes:
        if host and path:
            args += ["-v", f"{host}:{path}"]
        elif path:
            args += ["--tmpfs", path]
    if step.privileged:
        args.append("--privileged")
    for key in env_names:
        args += ["-e", key]
    if step.commands:
        entry = step.entrypoint or ["/bin/sh", "-c"]
        args += ["--entrypoint", entry[0], step.image, *entry[1:], _script(step.commands)]
    else:
        if step.entrypoint:
            args += ["--entrypoint", step.entrypoint[0], step.image, *step.entrypoint[1:]]
        else:
            args.append(step.image)
    return args


def _stream(proc: subprocess.Popen, prefix: str) -> None:
    streamer = mask.StreamMasker()
    buf = ""
    assert proc.stdout is not None
    for chunk in iter(lambda: proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
        buf += streamer.feed(chunk.decode("utf-8", "replace"))
        *lines, buf = buf.split("\n")
        for line in lines:
            sys.stdout.write(f"{prefix}{line}\n")
        sys.stdout.flush()
    buf += streamer.flush()
    if buf:
        sys.stdout.write(f"{prefix}{buf}\n")
    sys.stdout.flush()


def missing_image(image: str) -> bool:
    """Steps run only local images (``--pull never``): a missing one is a clear message, not a pull error."""
    proc = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return proc.returncode != 0


def run_step(step: Step, env: Mapping[str, str], workspace: Path, network: str) -> int:
    name = f"tagship-exec-{uuid.uuid4().hex[:8]}-{''.join(c if c.isalnum() else '-' for c in step.name)[:30]}"
    args = docker_args(step, sorted(env), workspace, network, name)
    child_env = {**os.environ, **env}
    proc = subprocess.Popen(args, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _stream(proc, f"[{step.name}] ")
        return proc.wait()
    except KeyboardInterrupt:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        proc.wait()
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tagship exec", description=(
        "Run a .drone.yml's docker pipeline locally, one container per step, with the workspace at /drone/src. "
        "A try-out runner: in production, Drone runs the pipeline."))
    p.add_argument("pipeline", nargs="?", default=".drone.yml", help="the pipeline file (default .drone.yml)")
    p.add_argument("--tag", help="run as a tag event for this tag (sets DRONE_TAG, DRONE_SEMVER*)")
    p.add_argument("--event", help="the build event (default: tag with --tag, else push)")
    p.add_argument("--branch", help="the branch (default: the workspace's current branch)")
    p.add_argument("--repo", help="owner/name (default: from the origin remote or the directory name)")
    p.add_argument("--secrets-file", type=Path, help="dotenv file with the values of from_secret names")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra variable for every step")
    p.add_argument("--workspace", type=Path, help="the directory mounted at /drone/src (default: the file's)")
    p.add_argument("--name", help="run only the pipeline with this name")
    p.add_argument("--network", default="host", help="docker network of the steps (default host: loopback "
                   "services such as a local registry or OSS endpoint are reachable)")
    p.add_argument("--dry-run", action="store_true", help="print the steps and their env (secrets masked); "
                   "run nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    path = Path(args.pipeline)
    if not path.is_file():
        print(f"tagship exec: {path}: no such file", file=sys.stderr)
        return 2
    workspace = (args.workspace or path.resolve().parent).resolve()
    secrets: dict[str, str] = {}
    if args.secrets_file:
        try:
            secrets = read_dotenv(args.secrets_file)
        except (OSError, ValueError) as exc:
            print(f"tagship exec: --secrets-file: {exc}", file=sys.stderr)
            return 2
    for value in secrets.values():
        mask.register(value)
    ctx = drone_context(workspace, args.tag, args.event, args.branch, args.repo)
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"tagship exec: --env {item!r}: expected K=V", file=sys.stderr)
            return 2
        ctx[key] = value
    try:
        pipelines = parse(path.read_text(), ctx)
    except PipelineError as exc:
        print(f"tagship exec: {path}: {exc}", file=sys.stderr)
        return 2
    pipelines = [p for p in pipelines if (not args.name or p.name == args.name) and runs(p.trigger, ctx)]
    if not pipelines:
        print(f"tagship exec: no pipeline in {path} runs for a {ctx['DRONE_BUILD_EVENT']} event"
              + (f" named {args.name!r}" if args.name else ""), file=sys.stderr)
        return 2
    for pipeline in pipelines:  # Drone's runner fails the whole pipeline before any step runs
        for step in pipeline.steps:
            for problem in env_problems(step):
                print(f"tagship exec: {path}: pipeline {pipeline.name!r}, step {step.name!r}: environment: "
                      f"{problem}", file=sys.stderr)
                return 2
    log.info(f"tagship exec {path} — {ctx['DRONE_BUILD_EVENT']}"
             + (f" {ctx['DRONE_TAG']}" if "DRONE_TAG" in ctx else "") + f" at {ctx['DRONE_COMMIT_SHA'][:8] or '?'}"
             + f"; workspace {workspace} at {WORKSPACE}. (In production, Drone runs the pipeline.)")
    try:
        return _run(pipelines, ctx, secrets, workspace, args.network, args.dry_run)
    except FileNotFoundError:
        print("tagship exec: the docker CLI is not installed (steps run on the local Docker engine)",
              file=sys.stderr)
        return 2


def _run(pipelines: list[Pipeline], ctx: dict[str, str], secrets: Mapping[str, str], workspace: Path,
         network: str, dry_run: bool) -> int:
    rows: list[tuple[str, str]] = []
    code = 0
    for pipeline in pipelines:
        for number, step in enumerate(pipeline.steps, 1):
            label = step.name if len(pipelines) == 1 else f"{pipeline.name}/{step.name}"
            failed = code not in (0, -78)
            status_ctx = {**ctx, "DRONE_BUILD_STATUS": "failure" if failed else "success"}
            if code == -78 or (failed and "status" not in (step.when or {})):
                rows.append((label, "not run"))
                continue
            if not runs(step.when, status_ctx):
                rows.append((label, "skipped (when)"))
                continue
            env, _ = plugin_env(step, secrets)
            step_env = {**status_ctx, "DRONE_STEP_NAME": step.name, "DRONE_STEP_NUMBER": str(number),
                        "DRONE_STAGE_NAME": pipeline.name, **env}
            kind = "commands" if step.commands else "plugin"
            if dry_run:
                log.info(f"step {label} ({kind}, {step.image})")
                for key in sorted(env):
                    log.info(f"    {key}={env[key]}")
                rows.append((label, "planned"))
                continue
            log.info(f"── step {label} ({kind}, {step.image})")
            if missing_image(step.image):
                hint = "make images" if "tagship/" in step.image else f"docker pull {step.image}"
                log.error(f"{step.image} is not on the local engine (tagship exec never pulls): {hint}")
                rows.append((label, "FAILED, image not found locally"))
                code = 125
                continue
            started = time.monotonic()
            rc = run_step(step, step_env, workspace, network)
            secs = time.monotonic() - started
            if rc == 0:
                rows.append((label, f"ok ({secs:.1f}s)"))
            elif rc == 78:
                rows.append((label, f"exit 78: skip the rest ({secs:.1f}s)"))
                code = -78
            elif step.failure == "ignore":
                rows.append((label, f"failed, exit {rc}, ignored ({secs:.1f}s)"))
            else:
                rows.append((label, f"FAILED, exit {rc} ({secs:.1f}s)"))
                code = code or rc  # the first failure's exit code is the pipeline's
    final = 0 if code == -78 else code
    log.table(f"tagship exec: {'success' if final == 0 else 'failure'}", rows)
    return final
