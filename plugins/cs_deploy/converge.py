"""Waiting for a swarm rollout, reimplemented from docker/cli ``cli/command/service/progress/progress.go``
and scoped to the services this run touched — but, unlike the CLI (docker/cli#6752), a swarm rollback, a
paused update, tasks that keep failing, or the deadline are failures.

``evaluate`` is pure (one service's inspect + its up-to-date tasks → a status); ``wait_for`` polls it for a
set of services until all are converged and stay so for the ``monitor`` window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .backend import Outcome, ServiceOutcome

# task states in lifecycle order (progress.go numberedStates)
ORDER = {s: i for i, s in enumerate((
    "new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running",
    "complete", "shutdown", "failed", "rejected", "remove", "orphaned"))}
FAILED_TASKS_LIMIT = 3   # failed/rejected tasks of the new spec before we stop waiting for swarm to retry
UNPLACEABLE_AFTER = 10.0  # seconds a task may stay pending with a scheduler error (no suitable node) before we fail


@dataclass
class Status:
    state: str            # progress | converged | failed
    running: int
    desired: int
    message: str = ""
    all_running: bool = False   # every slot runs the new spec (swarm may still be in its own monitor period)
    nodes: tuple[str, ...] = ()  # hostnames (node IDs if unknown) where the new spec runs
    unplaceable: str = ""       # a task pending with the scheduler's reason (e.g. no suitable node)


def _terminal(state: str) -> bool:
    return ORDER.get(state, 0) > ORDER["running"]


def evaluate(service: Mapping[str, Any], tasks: Iterable[Mapping[str, Any]], down_nodes: set[str],
             active_nodes: int, rolling_back: bool = False, hostnames: Mapping[str, str] | None = None) -> Status:
    """One service's rollout status from its inspect and its ``_up-to-date`` tasks.

    ``rolling_back``: we are waiting for a rollback, so swarm's own ``rollback_completed`` is the goal, not a
    failure — the service is judged by its tasks like any other. ``down_nodes``: nodes that are not ready; their
    tasks do not count. ``hostnames``: node ID → hostname, to name the node in failures."""
    hostnames = hostnames or {}
    mode = service.get("Spec", {}).get("Mode", {})
    if "ReplicatedJob" in mode or "GlobalJob" in mode:
        return evaluate_job(service, tasks, down_nodes, active_nodes)
    desired = mode["Replicated"].get("Replicas", 1) if "Replicated" in mode else active_nodes
    update = service.get("UpdateStatus") or {}
    ustate, umsg = update.get("State", ""), update.get("Message", "")
    if ustate in ("paused", "rollback_paused"):
        return Status("failed", 0, desired, f"swarm {ustate.replace('_', ' ')} the update: {umsg}".rstrip(": "))
    if ustate == "rollback_completed" and not rolling_back:
        return Status("failed", 0, desired, f"swarm rolled the update back: {umsg}".rstrip(": "))

    best: dict[Any, Mapping[str, Any]] = {}
    failed, last_err, unplaceable = 0, "", ""
    for task in tasks:
        if task.get("NodeID") in down_nodes:
            continue
        status = task.get("Status") or {}
        if status.get("State") in ("failed", "rejected"):
            failed += 1
            err = status.get("Err") or status.get("Message") or ""
            node = task.get("NodeID")
            where = f" on node {hostnames.get(node, node)}" if node else ""
            last_err = f"{err}{where}" if err else last_err
        elif status.get("State") == "pending" and status.get("Err") and task.get("DesiredState") == "running":
            unplaceable = status["Err"]
        key = task.get("Slot") if "Replicated" in mode else task.get("NodeID")
        prev = best.get(key)
        if prev is None or ORDER.get(task.get("DesiredState", ""), 0) < ORDER.get(prev.get("DesiredState", ""), 0):
            best[key] = task
    if "Replicated" not in mode and best:
        desired = len(best)   # global: the nodes swarm scheduled it on (placement constraints may exclude some)
    running = sum(1 for t in best.values()
                  if not _terminal(t.get("DesiredState", "")) and (t.get("Status") or {}).get("State") == "running")
    on = tuple(sorted({hostnames.get(t.get("NodeID"), t.get("NodeID") or "?") for t in best.values()
                       if not _terminal(t.get("DesiredState", "")) and (t.get("Status") or {}).get("State") == "running"}))
    if failed >= FAILED_TASKS_LIMIT and running < desired:
        return Status("failed", running, desired, f"{failed} tasks of the new spec failed: {last_err}".rstrip(": "),
                      nodes=on)
    if running >= desired and ustate not in ("updating", "rollback_started"):
        return Status("converged", running, desired, all_running=True, nodes=on)
    note = f"swarm is {ustate.replace('_', ' ')}" if ustate else ""
    if last_err:
        note = f"{note}; last task error: {last_err}".lstrip("; ")
    if unplaceable and running < desired:
        note = f"{note}; a task cannot be placed: {unplaceable}".lstrip("; ")
    return Status("progress", running, desired, note, all_running=running >= desired, nodes=on,
                  unplaceable=unplaceable if running < desired else "")


def evaluate_job(service: Mapping[str, Any], tasks: Iterable[Mapping[str, Any]], down_nodes: set[str],
                 active_nodes: int) -> Status:
    """A replicated-job / global-job (progress.go's jobs): converged when the current job iteration's
    completions are done (``running`` counts completed tasks), failed when its tasks keep failing."""
    mode = service.get("Spec", {}).get("Mode", {})
    iteration = ((service.get("JobStatus") or {}).get("JobIteration") or {}).get("Index", 0)
    current = [t for t in tasks if ((t.get("JobIteration") or {}).get("Index", 0)) == iteration
               and t.get("NodeID") not in down_nodes]
    failed = [t for t in current if (t.get("Status") or {}).get("State") in ("failed", "rejected")]
    done = [t for t in current if (t.get("Status") or {}).get("State") == "complete"]
    if "ReplicatedJob" in mode:
        desired = mode["ReplicatedJob"].get("TotalCompletions") or 1
        completed = len(done)
    else:
        nodes = {t.get("NodeID") for t in current if t.get("NodeID")}
        desired = len(nodes) or active_nodes
        completed = len({t.get("NodeID") for t in done})
    last_err = next(((t.get("Status") or {}).get("Err") or (t.get("Status") or {}).get("Message") or ""
                     for t in reversed(failed)), "")
    if completed >= desired:
        return Status("converged", completed, desired, "job complete", all_running=True)
    if len(failed) >= FAILED_TASKS_LIMIT:
        return Status("failed", completed, desired, f"{len(failed)} job tasks failed: {last_err}".rstrip(": "))
    note = f"job: {completed}/{desired} completed" + (f"; last task error: {last_err}" if last_err else "")
    return Status("progress", completed, desired, note)


Fetch = Callable[[str], "tuple[Mapping[str, Any], list[Mapping[str, Any]]]"]
# the cluster now: (IDs of nodes not ready, number of ready+active nodes[, node ID -> hostname])
Nodes = Callable[[], tuple]


def wait_for(names: list[str], fetch: Fetch, nodes: Nodes, deadline: float,
             monitor: float, poll: float, report: Callable[[str], None],
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
             rolling_back: bool = False) -> Outcome:
    """Poll until every service in ``names`` converged and all its slots ran for ``monitor`` seconds.

    The window starts when every slot runs the new spec, even while swarm still watches the update in its own
    ``update_config.monitor`` period (so the two windows overlap); it ends only once swarm says completed.

    Returns an Outcome (converged / failed / timeout) with a ServiceOutcome per service; the first failure
    stops the wait (the core then rolls back everything touched).
    """
    start = clock()
    stable_since: float | None = None
    stuck: dict[str, float] = {}     # service -> when a task was first seen unplaceable
    since: dict[str, float] = {}
    last: dict[str, Status] = {}
    shown: dict[str, str] = {}
    while True:
        cluster = nodes()
        down, active = cluster[0], cluster[1]
        hostnames = cluster[2] if len(cluster) > 2 else {}
        for name in names:
            service, tasks = fetch(name)
            st = evaluate(service, tasks, down, active, rolling_back, hostnames)
            last[name] = st
            line = f"{name}: {st.running}/{st.desired} running" + (f" ({st.message})" if st.message else "")
            if shown.get(name) != line:
                shown[name] = line
                report(line)
            if st.state == "converged":
                since.setdefault(name, clock() - start)
            else:
                since.pop(name, None)
            if st.unplaceable:
                first = stuck.setdefault(name, clock())
                if clock() - first >= UNPLACEABLE_AFTER:
                    st.state, st.message = "failed", f"a task cannot be placed: {st.unplaceable}"
            else:
                stuck.pop(name, None)
            if st.state == "failed":
                return _outcome("failed", f"{name}: {st.message}", last, since, names, clock() - start)
        now = clock()
        if all(last[n].all_running for n in names):
            stable_since = stable_since if stable_since is not None else now
            if now - stable_since >= monitor and all(last[n].state == "converged" for n in names):
                return _outcome("converged", "", last, since, names, now - start)
        else:
            stable_since = None
        if now >= deadline:
            waiting = [n for n in names if last[n].state != "converged"] or names
            return _outcome("timeout", f"not converged in time: {', '.join(waiting)}", last, since, names,
                            now - start)
        sleep(max(0.0, min(poll, deadline - now)))


def _outcome(state: str, message: str, last: Mapping[str, Status], since: Mapping[str, float], names: list[str],
             seconds: float) -> Outcome:
    services = {}
    for n in names:
        st = last.get(n)
        services[n] = ServiceOutcome(
            service=n, state=("converged" if st and st.state == "converged" else
                              "failed" if st and st.state == "failed" else
                              "timeout" if state == "timeout" else "waiting"),
            running=st.running if st else 0, desired=st.desired if st else None,
            message=st.message if st else "", seconds=round(since[n], 2) if n in since else None,
            nodes=list(st.nodes) if st else [])
    return Outcome(state, message, services, round(seconds, 2))  # type: ignore[arg-type]
