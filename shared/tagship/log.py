"""Output: plain timestamped lines in CI logs, colour and progress bars on a TTY; everything masked.

Every function here passes its text through the secret masker, so a plugin cannot print a secret by
accident. ``progress`` shows a rich progress bar on a TTY and a line per 10% (at most one per 5 s) otherwise.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Iterator, Sequence, TextIO

from .mask import mask
from .text import escape

_lock = threading.Lock()
_state = {"debug": False, "stream": None}

_STYLE = {"INFO": "", "NOTE": "cyan", "WARN": "yellow", "ERROR": "bold red", "DEBUG": "dim", "OK": "green"}


def configure(debug: bool = False, stream: TextIO | None = None) -> None:
    _state["debug"] = debug
    _state["stream"] = stream


def _stream() -> TextIO:
    return _state["stream"] or sys.stdout


def is_tty() -> bool:
    try:
        return _stream().isatty()
    except (AttributeError, ValueError):
        return False


def debug_enabled() -> bool:
    return bool(_state["debug"])


def _console():
    from rich.console import Console  # rich is only needed on a TTY

    return Console(file=_stream(), highlight=False)


def emit(level: str, message: str) -> None:
    # masked, then every control character but the line break escaped (a value cannot forge colours,
    # carriage returns or undecodable bytes); each line of a message gets its own stamp
    text = escape(mask(message), keep="\n")
    with _lock:
        out = _stream()
        if is_tty():
            from rich.markup import escape as markup_escape

            style = _STYLE.get(level, "")
            label = f"[{style}]{level:5}[/]" if style else f"{level:5}"
            _console().print(f"{label} {markup_escape(text)}")
        else:
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            for line in text.splitlines() or [""]:
                out.write(f"{stamp} {level:5} {line}\n")
            out.flush()


def info(message: str) -> None:
    emit("INFO", message)


def note(message: str) -> None:
    emit("NOTE", message)


def ok(message: str) -> None:
    emit("OK", message)


def warn(message: str) -> None:
    emit("WARN", message)


def error(message: str) -> None:
    emit("ERROR", message)


def debug(message: str) -> None:
    if _state["debug"]:
        emit("DEBUG", message)


def table(title: str, rows: Sequence[tuple[str, object]]) -> None:
    """A two-column block: a run's summary, a plan."""
    rows = [(escape(mask(k)), escape(mask(v))) for k, v in rows]
    with _lock:
        if is_tty():
            from rich.table import Table

            t = Table(title=mask(title), show_header=False, title_justify="left")
            t.add_column(style="bold")
            t.add_column()
            for k, v in rows:
                t.add_row(k, v)
            _console().print(t)
        else:
            out = _stream()
            width = max((len(k) for k, _ in rows), default=0)
            out.write(f"── {escape(mask(title))}\n")
            for k, v in rows:
                out.write(f"   {k.ljust(width)}  {v}\n")
            out.flush()


class Progress:
    def __init__(self, total: float, label: str):
        self.total, self.label, self.done = total, label, 0.0
        self._last_step, self._last_time = -1, 0.0
        self._bar = None
        self._task = None

    def advance(self, amount: float = 1) -> None:
        with _lock:
            self.done += amount
            if self._bar is not None:
                self._bar.update(self._task, completed=self.done)
                return
            step = int(10 * self.done / self.total) if self.total else 10
            now = time.monotonic()
            if step > self._last_step and (now - self._last_time >= 5 or step == 10):
                self._last_step, self._last_time = step, now
                pct = 100 * self.done / self.total if self.total else 100
                out = _stream()
                stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                out.write(f"{stamp} INFO  {self.label}: {pct:.0f}%\n")
                out.flush()


@contextlib.contextmanager
def progress(total: float, label: str) -> Iterator[Progress]:
    bar = Progress(total, label)
    if is_tty():
        from rich.progress import Progress as RichProgress

        with RichProgress(console=_console(), transient=True) as rich_bar:
            bar._bar, bar._task = rich_bar, rich_bar.add_task(label, total=total)
            yield bar
    else:
        yield bar
