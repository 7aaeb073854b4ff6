"""Subprocesses whose output goes through the masker, line by line, and whose errors are readable."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from . import deadline, log
from .errors import PluginError
from .mask import mask


def run(cmd: Sequence[str], *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
        check: bool = True, show: bool = False, timeout: float | None = None,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (never through a shell); output captured as text, masked before it is shown or raised.

    ``show`` logs each output line as it would appear in the CI log. A non-zero exit with ``check`` raises
    :class:`PluginError` carrying the command and the last lines of its (masked) output; without ``check``
    a missing program is returned as exit 127 rather than raised.
    """
    log.debug("$ " + " ".join(cmd))  # log masks it
    timeout = deadline.bound(timeout)  # no subprocess outlives PLUGIN_DEADLINE
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, env=dict(env) if env is not None else None, text=True,
                              capture_output=True, timeout=timeout, input=input)
    except FileNotFoundError:
        if check:
            raise PluginError(f"{cmd[0]} is not installed or not on PATH") from None
        return subprocess.CompletedProcess(list(cmd), 127, "", f"{cmd[0]}: not found")
    except subprocess.TimeoutExpired:
        raise PluginError(mask(f"{' '.join(cmd[:2])} did not finish within {timeout:.0f}s")) from None
    proc.stdout, proc.stderr = mask(proc.stdout or ""), mask(proc.stderr or "")
    if show:
        for line in (proc.stdout + proc.stderr).splitlines():
            log.info(line)
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise PluginError(mask(f"{' '.join(cmd[:3])} failed (exit {proc.returncode}): {tail}"))
    return proc
