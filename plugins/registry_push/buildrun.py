"""The build step of registry-push: choose the builder, then build once — BuildKit through the docker CLI
(build secrets from a private directory, an SSH agent, inline cache) or the classic builder through the SDK.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from tagship import log
from tagship.errors import PluginError, SettingsError
from tagship.mask import mask

from . import buildplan
from .plan import Dest


@dataclass
class Choice:
    builder: str                                   # buildkit | classic
    cli: str | None = None
    secrets: list[buildplan.BuildSecret] = field(default_factory=list)
    needles: list[str] = field(default_factory=list)   # filled by the build: what must be in no layer


def choose(s: Any, client: Any, dockerfile_text: str) -> Choice:
    """Which builder, before anything is built (a build that needs BuildKit here fails now, exit 1)."""
    from . import buildkit

    try:
        secrets = buildplan.parse_secrets(s.secrets, s.secrets_from_env, s.secrets_from_file)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    needs = buildplan.needs_buildkit(dockerfile_text)
    if (s.platform or s.build_network) and not needs:
        needs = "platform is set" if s.platform else "build_network is set"
    if secrets or s.ssh_agent_key:
        needs = "build secrets are set" if secrets else "ssh_agent_key is set"
    cli = None if s.builder == "classic" else buildkit.find_cli(s.docker_cli)
    engine_ok = s.builder != "classic" and buildkit.engine_supports(client)
    try:
        builder, notice = buildplan.choose_builder(s.builder, engine_ok=engine_ok, cli=cli, needs=needs)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    except RuntimeError as exc:
        raise PluginError(str(exc), hint="use the tagship/registry-push image (it ships a BuildKit-capable "
                                         "docker CLI), or set docker_cli to one such as /usr/bin/docker") from None
    if notice:
        log.note(notice)
    return Choice(builder, cli, secrets)


def pull_cache(client: Any, images: Sequence[str], dests: Sequence[Dest]) -> None:
    """Pull the ``cache_from`` images through the engine (with the targets' logins): BuildKit then finds their
    inline cache locally (20.10's BuildKit would talk plain HTTP to a registry named localhost)."""
    auth = {d.host: {"username": d.username, "password": d.password or ""} for d in dests if d.username}
    for image in images:
        last = image.rsplit("/", 1)[-1]
        repo, tag = (image.rsplit(":", 1) if ":" in last else (image, "latest"))
        host = repo.split("/", 1)[0]
        try:
            client.pull(repo, tag=tag, auth_config=auth.get(host))
        except Exception as exc:
            log.note(f"cache_from {image}: not pulled ({mask(str(exc)).splitlines()[0][:120]}); building without it")


def build(choice: Choice, s: Any, client: Any, base_url: str | None, *, workspace: Path, context: Path,
          dockerfile: Path, tag: str, args: dict[str, str], labels: dict[str, str], hosts: dict[str, str],
          dests: Sequence[Dest], result: dict[str, Any]) -> str:
    """Build once; returns the image id. ``result`` gets the builder and the CACHED step count."""
    from . import engine

    result["builder"] = choice.builder
    if choice.builder == "classic":
        return engine.build(client, context=context, dockerfile=dockerfile, tag=tag, buildargs=args,
                            labels=labels, target=s.target, cache_from=s.cache_from, pull=s.pull,
                            nocache=s.no_cache, extra_hosts=hosts)
    from . import buildkit
    from .secretfiles import materialize, private_dir

    pull_cache(client, s.cache_from, dests)
    args = dict(args)
    args.setdefault("BUILDKIT_INLINE_CACHE", "1")   # the pushed image carries its cache for the next build
    with private_dir() as root:
        files, values = materialize(choice.secrets, os.environ, workspace, root)
        key = s.ssh_agent_key.get_secret_value() if s.ssh_agent_key else ""
        choice.needles = buildplan.needles(values, key)
        config = buildkit.write_config(root, dests)
        iid = root / "iid"
        env = buildkit.cli_env(config, base_url, args)
        if key:
            from .sshagent import agent

            with agent(key) as sock:
                log.ok("ssh-agent holds ssh_agent_key for RUN --mount=type=ssh")
                image_id, cached, steps = _run(choice, s, root, iid, env, args, labels, hosts, files, sock,
                                               context, dockerfile, tag)
        else:
            image_id, cached, steps = _run(choice, s, root, iid, env, args, labels, hosts, files, "",
                                           context, dockerfile, tag)
    result["steps"] = steps
    result["cached_steps"] = cached
    log.ok(f"BuildKit: {cached}/{steps} steps CACHED")
    return image_id


def _run(choice: Choice, s: Any, root: Path, iid: Path, env: dict[str, str], args: dict[str, str],
         labels: dict[str, str], hosts: dict[str, str], files: list[tuple[str, str]], sock: str,
         context: Path, dockerfile: Path, tag: str) -> tuple[str, int, int]:
    from . import buildkit

    assert choice.cli
    cmd = buildplan.cli_args(choice.cli, context=str(context), dockerfile=str(dockerfile), tag=tag,
                             iidfile=str(iid), arg_names=list(args), labels=labels, target=s.target,
                             platform=s.platform, cache_from=s.cache_from, pull=s.pull, nocache=s.no_cache,
                             extra_hosts=[f"{h}:{ip}" for h, ip in hosts.items()], secrets=files, ssh_sock=sock,
                             network=s.build_network)
    return buildkit.run_build(cmd, env, iid, timeout=s.build_timeout)
