"""A short-lived ssh-agent holding one key, for ``docker build --ssh default``.

The key goes in through ``ssh-add -`` from a pipe (never a file, never argv). The agent runs in command mode
(``ssh-agent -a SOCK sh -c 'read _'``): its command waits on a pipe only this process holds, so the agent is
stopped here on every path out — and should this process be killed outright, the pipe closes, the command
ends and ssh-agent, which watches its command, exits within about 10 s."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tagship import mask
from tagship.errors import PluginError

from .secretfiles import private_dir


def _stop(proc: subprocess.Popen, agent_pid: int | None) -> None:
    if agent_pid:
        try:
            os.kill(agent_pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        if proc.stdin:
            proc.stdin.close()       # `read _` returns: the command ends, and with it the agent
    except OSError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if agent_pid:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(agent_pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


@contextmanager
def agent(key: str, timeout: float = 30) -> Iterator[str]:
    """Yields the agent's socket path with ``key`` loaded; the agent and its directory are gone afterwards."""
    mask.register(key)
    for line in key.splitlines():
        if len(line.strip()) >= 16 and not line.startswith("-----"):
            mask.register(line.strip())
    with private_dir("tagship-ssh-") as root:
        sock = str(root / "agent.sock")
        try:
            proc = subprocess.Popen(["ssh-agent", "-a", sock, "sh", "-c", 'echo "$SSH_AGENT_PID"; read _'],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        except FileNotFoundError:
            raise PluginError("ssh_agent_key is set, but ssh-agent is not installed",
                              hint="install openssh-client (the tagship/registry-push image has it)") from None
        agent_pid = None
        try:
            first = proc.stdout.readline().decode().strip() if proc.stdout else ""
            agent_pid = int(first) if first.isdigit() else None
            deadline = time.monotonic() + timeout
            while not Path(sock).exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise PluginError("ssh-agent did not start", hint="is openssh-client installed?")
                time.sleep(0.02)
            data = key if key.endswith("\n") else key + "\n"
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SSH_AUTH_SOCK": sock}
            added = subprocess.run(["ssh-add", "-q", "-"], input=data.encode(), env=env, capture_output=True,
                                   timeout=timeout)
            if added.returncode != 0:
                why = mask.mask(added.stderr.decode(errors="replace")).strip().splitlines()
                raise PluginError(f"ssh_agent_key: ssh-add refused the key: {(why or ['(no message)'])[-1][:200]}",
                                  hint="the secret must be a private key without a passphrase (PEM or OpenSSH)")
            yield sock
        finally:
            _stop(proc, agent_pid)
