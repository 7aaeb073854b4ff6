"""The entry-point wrapper every plugin's ``__main__`` calls: the runtime contract in one place.

``run_plugin`` reads the context and settings, registers secrets for masking, runs the plugin's ``main``,
maps errors to exit codes (0 / 1 / 2 / 78; 130 or 143 when interrupted), prints the summary and writes
``.tagship/<plugin>.json`` (and a Drone card when ``DRONE_CARD_PATH`` is set).
"""

from __future__ import annotations

import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import __version__, deadline, log, mask
from .context import DroneContext, load_context
from .errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PluginError, SettingsError, SkipRest
from .results import write_card, write_result
from .schema import render_help
from .settings import PluginSettings, load_settings, renamed_settings, unknown_settings
from .text import escape, one_line


class Interrupted(BaseException):
    """SIGTERM or Ctrl-C: unwinds the plugin like KeyboardInterrupt does."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@dataclass
class Run:
    """What a plugin's ``main`` gets besides its settings: context, workspace, and places to report."""

    plugin: str
    ctx: DroneContext
    settings: PluginSettings
    summary: list[tuple[str, object]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    pending: str = ""   # what is left undone if the run stops now (shown on SIGTERM / failure)
    write_files: bool = True  # False: no .tagship/<plugin>.json (a dry run that must write nothing)
    started: float = field(default_factory=time.monotonic)

    @property
    def workspace(self) -> Path:
        return self.ctx.workspace

    @property
    def dry_run(self) -> bool:
        return bool(getattr(self.settings, "dry_run", False))

    def secret(self, value: Any) -> Any:
        """Register a value learnt at run time (a token, a fetched key) for masking; returns it."""
        mask.register(value)
        return value


Main = Callable[[PluginSettings, Run], "dict[str, Any] | None"]


def _handle_signal(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def run_plugin(plugin: str, summary: str, settings_cls: type[PluginSettings], main: Main,
               argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    for arg in argv:
        if arg in ("-h", "--help"):
            print(render_help(plugin, summary, settings_cls))
            return EXIT_OK
        if arg == "--version":
            print(f"{plugin} (tagship {__version__})")
            return EXIT_OK
        if arg != "--debug":
            print(f"{plugin}: unknown argument {arg!r}; settings come from PLUGIN_* variables "
                  f"(see {plugin} --help)", file=sys.stderr)
            return EXIT_USAGE

    import os
    env = os.environ if environ is None else environ
    try:  # the start of a run is inside the error handling too: a hostile value is never a traceback
        ctx = load_context(environ)
        settings, source = load_settings(settings_cls, environ)
    except SettingsError as exc:
        for secret in _raw_secrets(settings_cls, environ):
            mask.register(secret)
        for line in exc.problems:
            log.error(one_line(line))
        for line in unknown_settings(settings_cls, env):  # the did-you-mean helps most here
            log.warn(one_line(line))
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - e.g. a DRONE_* value the context cannot take
        for secret in _raw_secrets(settings_cls, environ):
            mask.register(secret)
        log.error(one_line(f"could not read the build context or settings: {type(exc).__name__}: {exc}"))
        return EXIT_USAGE
    for secret in settings.secret_values():
        mask.register(secret)
    log.configure(debug=debug or settings.debug)
    deadline.start(settings.deadline)
    if env.get("DRONE_BUILD_CREATED") and ctx.build_created is None:
        log.warn("DRONE_BUILD_CREATED is not Unix seconds in ASCII digits; ignored")
    for line in renamed_settings(settings_cls, source):
        log.note(one_line(line))
    for line in unknown_settings(settings_cls, env):
        log.warn(one_line(line))

    run = Run(plugin=plugin, ctx=ctx, settings=settings)
    old = {s: signal.signal(s, _handle_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    status, code, message = "success", EXIT_OK, None
    try:
        returned = main(settings, run)
        if returned:
            run.result.update(returned)
    except SkipRest as exc:
        status, code, message = "skipped", exc.exit_code, str(exc)
        log.note(f"nothing to do: {exc}; the remaining steps are skipped")
    except SettingsError as exc:
        status, code, message = "bad-settings", EXIT_USAGE, str(exc)
        for line in exc.problems:
            log.error(one_line(line))
    except PluginError as exc:
        status, code, message = "failed", EXIT_FAILED, exc.message
        log.error(exc.message)
        if exc.hint:
            log.note(f"hint: {exc.hint}")
        if run.pending:
            log.note(f"left undone: {run.pending}")
        if log.debug_enabled():
            log.debug(traceback.format_exc())
    except Interrupted as exc:
        status, code, message = "interrupted", 128 + exc.signum, f"stopped by {exc}"
        log.error(f"stopped by {exc}" + (f"; left undone: {run.pending}" if run.pending else ""))
    except Exception as exc:  # an internal error: no bare traceback unless --debug
        status, code, message = "failed", EXIT_FAILED, escape(f"{type(exc).__name__}: {exc}")
        log.error(f"internal error: {message}" +
                  ("" if log.debug_enabled() else " (run with PLUGIN_DEBUG=true for the traceback)"))
        if log.debug_enabled():
            log.debug(traceback.format_exc())
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    _finish(run, status, code, message)
    return code


def _raw_secrets(cls: type[PluginSettings], environ: Mapping[str, str] | None) -> list[str]:
    import os

    from .settings import DroneEnvSource, is_secret

    source = DroneEnvSource(cls, os.environ if environ is None else environ)
    raw = source()
    return [str(v) for k, v in raw.items() if k in cls.model_fields and is_secret(cls.model_fields[k])]


def _finish(run: Run, status: str, code: int, message: str | None) -> None:
    seconds = round(time.monotonic() - run.started, 3)
    rows = [("status", status), *run.summary, ("time", f"{seconds:.1f}s")]
    if message and status != "success":
        rows.insert(1, ("error", message))
    log.table(f"{run.plugin}: {status}", rows)
    data = {"plugin": run.plugin, "status": status, "exit_code": code, "seconds": seconds,
            "dry_run": run.dry_run, "commit": run.ctx.commit_sha, "tag": run.ctx.tag_name, **run.result}
    if message and status != "success":
        data["error"] = message
    if not run.write_files:
        return
    try:
        write_result(run.workspace, run.plugin, data)
        if run.ctx.card_path:
            write_card(run.ctx.card_path, run.plugin, status, rows)
    except (OSError, PluginError) as exc:
        log.warn(f"could not write the result file: {exc}")
