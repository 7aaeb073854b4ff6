"""Machine-readable results: ``.tagship/<plugin>.json`` in the workspace and a Drone card."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

from .mask import mask, mask_data
from .paths import state_dir


def _dump(data: Any) -> str:
    # masked before serializing (a secret inside a string that is itself JSON is escaped twice once dumped),
    # and after (anything default=str turned into text)
    data = mask_data(json.loads(json.dumps(data, default=str)))
    return mask(json.dumps(data, indent=2, sort_keys=False)) + "\n"


def write_json(path: Path, data: Any) -> Path:
    """Write masked JSON atomically (temp file + rename), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(_dump(data))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def write_result(workspace: Path, plugin: str, data: Any) -> Path:
    return write_json(state_dir(workspace) / f"{plugin}.json", data)


def read_result(workspace: Path, plugin: str) -> dict[str, Any] | None:
    path = Path(workspace) / ".tagship" / f"{plugin}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_card(card_path: Path, title: str, status: str, rows: Sequence[tuple[str, object]]) -> Path:
    """A Drone adaptive card (server 2.6+): a title, the outcome and the summary's facts."""
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": title, "weight": "bolder", "size": "medium"},
            {"type": "TextBlock", "text": status, "color": "good" if status == "success" else "attention"},
            {"type": "FactSet", "facts": [{"title": str(k), "value": str(v)} for k, v in rows]},
        ],
    }
    return write_json(Path(card_path), card)
