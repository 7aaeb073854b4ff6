"""Write the new version into the repository's files: every edit is worked out first, then all are written.

A plain path: the current version is replaced where it stands as a whole version on a line that mentions
"version" (``version = "1.2.0"``, ``"version": "1.2.0"``, ``const Version = "1.2.0"``), or the whole file when
it holds nothing but the version (a ``VERSION`` file) — so a dependency pinned to the same number is left
alone.  A ``{path, search, replace}`` rule replaces every occurrence of ``search`` (bump-my-version style),
with ``{current_version}`` and ``{new_version}`` filled in.  A file that already holds the new version
where the old one is expected is left as it is (the version was bumped by hand before tagging).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tagship.errors import PluginError

from .settings import FileRule


@dataclass
class Edit:
    path: Path
    shown: str  # the path as the user wrote it
    new_text: str | None  # None: nothing to change
    count: int
    note: str


def _token(version: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.+-])" + re.escape(version) + r"(?![\w+-]|\.\w)")


def _on_version_lines(text: str, old: str, new: str) -> tuple[str, int]:
    pattern = _token(old)
    count = 0
    out = []
    for line in text.splitlines(keepends=True):
        if "version" in line.lower():
            line, n = pattern.subn(new, line)
            count += n
        out.append(line)
    return "".join(out), count


def edit_text(text: str, rule: FileRule, current: str | None, new: str) -> tuple[str | None, int, str]:
    """(new text or None when unchanged, replacements, what happened) — raises ValueError with the reason."""
    if rule.search is None:
        if current is not None and text.strip() == current:
            return text.replace(current, new, 1), 1, f"{current} → {new}"
        if current is not None:
            result, count = _on_version_lines(text, current, new)
            if count:
                return result, count, f"{current} → {new} ({count}×)"
        if text.strip() == new or _on_version_lines(text, new, new)[1]:
            return None, 0, f"already holds {new}"
        if current is None:
            raise ValueError("there is no earlier release to replace; set current_version or use "
                             "{path, search, replace}")
        raise ValueError(f"no line mentioning 'version' holds {current}")
    if "{current_version}" in rule.search and current is None:
        raise ValueError("search uses {current_version} but there is no earlier release; set current_version")

    def fill(template: str) -> str:
        return template.replace("{current_version}", current or "").replace("{new_version}", new)

    search, replace = fill(rule.search), fill(rule.replace)
    if not search:
        raise ValueError("search is empty")
    count = text.count(search)
    if count:
        return text.replace(search, replace), count, f"{search!r} → {replace!r} ({count}×)"
    if replace and replace in text:
        return None, 0, f"already holds {replace!r}"
    raise ValueError(f"{search!r} is not in the file")


def plan_edits(workspace: Path, rules: Sequence[FileRule | str], current: str | None, new: str,
               allow_outside: bool = False) -> list[Edit]:
    """Work out every edit; one PluginError listing every file that cannot be edited (nothing written)."""
    root = workspace.resolve()
    edits: list[Edit] = []
    problems: list[str] = []
    for rule in rules:
        rule = FileRule(path=rule) if isinstance(rule, str) else rule
        shown = rule.path
        path = (root / shown).resolve()
        if not path.is_relative_to(root) and not allow_outside:
            problems.append(f"{shown}: outside the workspace")
            continue
        try:
            text = path.read_bytes().decode("utf-8")  # keeps CRLF as it is
        except FileNotFoundError:
            problems.append(f"{shown}: no such file")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{shown}: cannot be read ({exc})")
            continue
        prior = next((e for e in edits if e.path == path), None)
        if prior is not None and prior.new_text is not None:
            text = prior.new_text
        try:
            new_text, count, note = edit_text(text, rule, current, new)
        except ValueError as exc:
            problems.append(f"{shown}: {exc}")
            continue
        if prior is not None:
            prior.new_text = new_text if new_text is not None else prior.new_text
            prior.count += count
            prior.note += f"; {note}"
        else:
            edits.append(Edit(path, shown, new_text, count, note))
    if problems:
        raise PluginError("files: no file was changed, because " + "; ".join(problems),
                          hint="fix the paths or search strings in PLUGIN_FILES, or set PLUGIN_CURRENT_VERSION")
    return edits


def apply_edits(edits: Sequence[Edit]) -> None:
    """Write every changed (or new) file: all to temporary files first, then renamed into place, so a
    failure leaves every file as it was."""
    staged: list[tuple[str, Path]] = []
    try:
        for edit in edits:
            if edit.new_text is None:
                continue
            edit.path.parent.mkdir(parents=True, exist_ok=True)
            mode = edit.path.stat().st_mode & 0o7777 if edit.path.exists() else 0o644
            fd, tmp = tempfile.mkstemp(dir=edit.path.parent, prefix=f".{edit.path.name}.")
            staged.append((tmp, edit.path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(edit.new_text)
            os.chmod(tmp, mode)
    except OSError as exc:
        for tmp, _ in staged:
            os.unlink(tmp)
        raise PluginError(f"no file was changed, because writing failed: {exc}",
                          hint="check the paths (PLUGIN_FILES, PLUGIN_VERSION_FILE, PLUGIN_TAGS_FILE) and the "
                          "workspace's permissions") from None
    for tmp, path in staged:
        os.replace(tmp, path)
