"""The git facts version-bump needs, through ``tagship.proc.run`` (no GitPython): tags, HEAD, commit
messages, and a fetch of the remote's tags (a Drone tag build clones only ``+refs/tags/<tag>:``)."""

from __future__ import annotations

import os
from pathlib import Path

from tagship import proc
from tagship.errors import PluginError
from tagship.retry import RetryPolicy, call

# git must never wait for a password on a CI runner; messages must be parseable (English)
_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_ASKPASS": "true"}
_PERMANENT = ("authentication failed", "could not read username", "permission denied", "not found",
              "does not appear to be a git repository", "repository not found", "invalid username")


# Drone gives every step DRONE_NETRC_MACHINE/USERNAME/PASSWORD (the clone's credentials) but writes the
# .netrc only in the clone step: this helper hands them to git for that host only, read from the
# environment, so the password is never on a command line nor in a file
_NETRC_HELPER = (
    '!f() { test "$1" = get || return 0; h=; while IFS= read -r l; do case "$l" in host=*) h="${l#host=}";; '
    'esac; done; case "$h" in "$DRONE_NETRC_MACHINE"|"$DRONE_NETRC_MACHINE":*) printf "username=%s\\npassword=%s'
    '\\n" "$DRONE_NETRC_USERNAME" "$DRONE_NETRC_PASSWORD";; esac; }; f')


def _config_env(workspace: Path) -> dict[str, str]:
    """Command-scope config through GIT_CONFIG_COUNT (git >= 2.31): kept off the command line, and
    ``safe.directory`` is honoured there (the workspace is often owned by another uid than the step's)."""
    pairs = [("safe.directory", str(Path(workspace).resolve()))]
    if os.environ.get("DRONE_NETRC_MACHINE") and os.environ.get("DRONE_NETRC_PASSWORD"):
        pairs += [("credential.helper", ""), ("credential.helper", _NETRC_HELPER)]
    count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
    env = {"GIT_CONFIG_COUNT": str(count + len(pairs))}
    for i, (key, value) in enumerate(pairs, start=count):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return env


def git(workspace: Path, *args: str, check: bool = True, timeout: float = 120):
    env = {**os.environ, **_ENV, **_config_env(workspace)}
    return proc.run(["git", *args], cwd=workspace, env=env, check=check, timeout=timeout)


def is_repo(workspace: Path) -> bool:
    return git(workspace, "rev-parse", "--git-dir", check=False).returncode == 0


def head(workspace: Path) -> str | None:
    out = git(workspace, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return out.stdout.strip() or None if out.returncode == 0 else None


def remotes(workspace: Path) -> list[str]:
    return git(workspace, "remote").stdout.split()


def remote_passwords(workspace: Path, remote: str) -> list[str]:
    """The password in the remote's URL (``https://user:token@host/…``) as written and decoded, to be
    masked in every output (git prints the URL in its errors)."""
    from urllib.parse import unquote, urlsplit

    url = git(workspace, "remote", "get-url", remote, check=False).stdout.strip()
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []


def fetch_tags(workspace: Path, remote: str, policy: RetryPolicy | None = None) -> None:
    """All of the remote's tags, replacing local tags that moved; retried when the failure looks transient."""

    def transient(exc: BaseException) -> bool:
        return isinstance(exc, PluginError) and not any(p in str(exc).lower() for p in _PERMANENT)

    args = ["fetch", "--quiet", "--no-recurse-submodules", "--force", remote, "+refs/tags/*:refs/tags/*"]
    call(git, workspace, *args, is_transient=transient, what=f"git fetch {remote} tags",
         policy=policy or RetryPolicy(attempts=3, deadline=120, base=1, cap=10))


def list_tags(workspace: Path) -> list[tuple[str, str, int]]:
    """``(tag name, commit, created)`` for every tag; an annotated tag is peeled to its commit; created is
    the tagger date (annotated) or the commit date (lightweight), in unix seconds."""
    fmt = "%(refname:strip=2)%09%(objectname)%09%(*objectname)%09%(creatordate:unix)"
    out = git(workspace, "for-each-ref", f"--format={fmt}", "refs/tags").stdout
    tags = []
    for line in out.splitlines():
        name, obj, peeled, created = (line.split("\t") + ["", "", ""])[:4]
        if name:
            tags.append((name, peeled or obj, int(created) if created.isdigit() else 0))
    return tags


def messages_since(workspace: Path, commit: str | None) -> list[str]:
    """Full messages of the commits reachable from HEAD and not from ``commit`` (all of them if None)."""
    rev = f"{commit}..HEAD" if commit else "HEAD"
    out = git(workspace, "log", "--format=%B%x1e", rev).stdout
    return [m.strip() for m in out.split("\x1e") if m.strip()]


def is_shallow(workspace: Path) -> bool:
    return git(workspace, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() == "true"


def unshallow(workspace: Path, remote: str) -> None:
    """The whole history (a shallow clone cannot say which tags HEAD contains nor count commits)."""
    out = git(workspace, "fetch", "--quiet", "--unshallow", "--no-recurse-submodules", remote, check=False)
    if out.returncode != 0:
        from tagship import log

        log.warn(f"could not fetch the full history ({out.stderr.strip()[-200:]}); the bump reads what "
                 "the clone holds")


def merged_tags(workspace: Path) -> set[str]:
    """The tags whose commit is in HEAD's history."""
    return set(git(workspace, "tag", "--merged", "HEAD").stdout.split())
