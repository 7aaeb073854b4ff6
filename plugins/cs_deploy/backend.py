"""The backend interface: what the core asks of a cluster (swarm now, aliyun-cs now, ACK one day).

The core (``deploy.py``) renders and lints the compose file into a :class:`Desired`, then drives a backend:

    backend = open_backend(settings, run)          # connects; nothing changed yet
    plan = backend.plan(desired)                   # read-only: current vs desired, per service
    if dry_run: print plan.diffs; stop
    applied = backend.apply(plan)                  # changes the cluster; records what it touched + before
    outcome = backend.wait(applied, deadline)      # converged and stable, or failed / timed out
    (core runs the optional HTTP health gate here)
    if ok: backend.finish(applied)                 # blue-green confirm; garbage-collect old configs
    else:  backend.rollback(applied, deadline)     # every touched service back to its previous state
    backend.close()

Rules for implementations:
- ``plan`` never changes anything. ``apply`` must fill ``Applied.touched``/``previous`` *as it goes*, so that
  a failure half-way can still be rolled back (it raises :class:`ApplyError` carrying the partial record).
- ``wait`` and ``rollback`` never raise for an unhealthy cluster; they return an :class:`Outcome`.
  Network/API errors after retries raise ``tagship.errors.PluginError``.
- Deadlines are absolute ``time.monotonic()`` values, so the core owns the budgets.
- Secrets: env values and the rendered template may hold secrets; they are registered with the masker by the
  core before any backend runs, so log freely through ``tagship.log`` — never ``print``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from tagship.runtime import Run

    from .settings import Settings

Action = Literal["create", "update", "unchanged", "remove"]
State = Literal["converged", "failed", "timeout", "rolled-back", "rollback-failed", "skipped"]


@dataclass
class ServiceWant:
    """One service as the compose file wants it (after rendering and image pinning)."""

    name: str                       # the compose key, e.g. "web" (the swarm name is "<stack>_web")
    image: str                      # as deployed: repo:tag@sha256:… when pinned
    image_ref: str                  # as written in the compose file (after substitution)
    env: dict[str, str] = field(default_factory=dict)
    replicas: int | None = None     # None: global mode / backend default
    update_config: dict[str, Any] = field(default_factory=dict)   # compose deploy.update_config
    ports: list[str] = field(default_factory=list)                # normalised "published:target/proto"
    config: dict[str, Any] = field(default_factory=dict)          # the full rendered compose service


@dataclass
class Desired:
    """The rendered deployment: the input every backend gets."""

    stack: str
    template: str                   # the rendered compose YAML text (aliyun-cs sends it as is)
    compose: dict[str, Any]         # the same, parsed
    services: dict[str, ServiceWant]
    environment: dict[str, str]     # substitution variables (aliyun-cs project environment)
    version: str | None = None      # release version (aliyun-cs project version)
    secret_names: set[str] = field(default_factory=set)   # env names whose values are masked in diffs


@dataclass
class Change:
    field: str                      # image | env.NAME | replicas | update_config.X | ports | template | version
    old: Any
    new: Any


@dataclass
class ServiceDiff:
    service: str
    action: Action
    changes: list[Change] = field(default_factory=list)
    old_image: str | None = None
    new_image: str | None = None


@dataclass
class Plan:
    desired: Desired
    diffs: list[ServiceDiff]
    notes: list[str] = field(default_factory=list)    # e.g. "project does not exist yet; it will be created"
    state: Any = None                                  # backend-private (current specs, ids…)

    @property
    def changed(self) -> bool:
        return any(d.action != "unchanged" for d in self.diffs)


@dataclass
class Applied:
    """What ``apply`` did: enough to wait on exactly those services and to undo them."""

    plan: Plan
    touched: list[str] = field(default_factory=list)            # services created or updated (compose names)
    created: list[str] = field(default_factory=list)            # subset of touched that did not exist before
    removed: list[str] = field(default_factory=list)            # pruned services
    previous: dict[str, Any] = field(default_factory=dict)      # service -> previous spec (backend-shaped)
    started: float = 0.0                                        # time.monotonic() when apply began
    state: Any = None                                           # backend-private (ids, versions, project…)


@dataclass
class ServiceOutcome:
    service: str
    state: str                      # converged | failed | timeout | rolled-back | …
    running: int = 0
    desired: int | None = None
    message: str = ""
    seconds: float | None = None
    nodes: list[str] = field(default_factory=list)   # where the new spec runs (swarm: node hostnames)


@dataclass
class Outcome:
    state: State
    message: str = ""
    services: dict[str, ServiceOutcome] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state in ("converged", "skipped")


class ApplyError(Exception):
    """``apply`` failed part-way; ``applied`` holds what was already changed so the core can roll it back."""

    def __init__(self, message: str, applied: Applied, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.applied = applied
        self.hint = hint


class Backend(Protocol):
    name: str

    def plan(self, desired: Desired) -> Plan: ...

    def apply(self, plan: Plan) -> Applied: ...

    def wait(self, applied: Applied, deadline: float) -> Outcome: ...

    def finish(self, applied: Applied) -> None: ...

    def rollback(self, applied: Applied, deadline: float) -> Outcome: ...

    def close(self) -> None: ...
