"""Choosing a backend: the one place that knows every backend.

``backend.py`` is the interface and imports no backend; this module imports the configured one, lazily (the
SDKs behind them are heavy), so the arrows stay one-way: deploy → backends → swarm | aliyun_cs → backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tagship.runtime import Run

    from .backend import Backend
    from .settings import Settings


def open_backend(settings: "Settings", run: "Run") -> "Backend":
    """The configured backend, connected. Heavy SDKs are imported here, not at module import."""
    if settings.backend == "aliyun-cs":
        from .aliyun_cs import AliyunCSBackend

        return AliyunCSBackend(settings, run)
    from .swarm import SwarmBackend

    return SwarmBackend(settings, run)
