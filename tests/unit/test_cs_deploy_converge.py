"""cs-deploy wait: the docker CLI's convergence rules (up-to-date tasks, lowest desired state per slot, nodes
down skipped) plus what the CLI gets wrong — a paused update, a swarm rollback, tasks that keep failing, and the
deadline are failures — and the monitor window (a dip resets it)."""

from __future__ import annotations

from cs_deploy import converge


def svc(replicas=2, state=None, msg=""):
    s = {"Spec": {"Mode": {"Replicated": {"Replicas": replicas}} if replicas is not None else {"Global": {}}}}
    if state:
        s["UpdateStatus"] = {"State": state, "Message": msg}
    return s


def task(slot, state="running", desired="running", node="n1", err=""):
    return {"Slot": slot, "NodeID": node, "DesiredState": desired, "Status": {"State": state, "Err": err}}


def test_converged_when_every_slot_runs():
    st = converge.evaluate(svc(2), [task(1), task(2)], set(), 1)
    assert (st.state, st.running, st.desired) == ("converged", 2, 2)


def test_lowest_desired_state_per_slot_wins():
    tasks = [task(1, "running", desired="shutdown"), task(1, "starting"), task(2)]
    st = converge.evaluate(svc(2), tasks, set(), 1)
    assert (st.state, st.running) == ("progress", 1)


def test_tasks_on_down_nodes_do_not_count():
    st = converge.evaluate(svc(2), [task(1), task(2, node="dead")], {"dead"}, 1)
    assert st.state == "progress" and st.running == 1


def test_global_mode_wants_one_per_scheduled_node():
    tasks = [{"NodeID": "a", "DesiredState": "running", "Status": {"State": "running"}},
             {"NodeID": "b", "DesiredState": "running", "Status": {"State": "starting"}}]
    assert converge.evaluate(svc(None), tasks, set(), 3).state == "progress"
    st = converge.evaluate(svc(None), tasks[:1], set(), 3)       # constraints: swarm scheduled it on one node
    assert (st.state, st.desired) == ("converged", 1)
    assert converge.evaluate(svc(None), [], set(), 2).desired == 2   # nothing scheduled yet: every active node


def test_updating_is_not_converged_yet_even_with_all_running():
    assert converge.evaluate(svc(1, "updating"), [task(1)], set(), 1).state == "progress"
    assert converge.evaluate(svc(1, "completed"), [task(1)], set(), 1).state == "converged"


def test_paused_and_rolled_back_are_failures_unlike_the_docker_cli():
    for state, words in (("paused", "paused"), ("rollback_paused", "rollback paused"),
                         ("rollback_completed", "rolled the update back")):
        st = converge.evaluate(svc(1, state, "task abc failed"), [task(1)], set(), 1)
        assert st.state == "failed" and words in st.message and "task abc failed" in st.message


def test_waiting_for_our_rollback_swarms_own_rollback_is_the_goal():
    # after swarm rolled a bad update back, our rollback wait judges the (previous) spec's tasks
    st = converge.evaluate(svc(1, "rollback_completed", "update rolled back"), [task(1, "starting")], set(), 1,
                           rolling_back=True)
    assert st.state == "progress"
    st = converge.evaluate(svc(1, "rollback_completed"), [task(1)], set(), 1, rolling_back=True)
    assert st.state == "converged"
    assert converge.evaluate(svc(1, "rollback_paused"), [task(1)], set(), 1, rolling_back=True).state == "failed"


def test_tasks_that_keep_failing_stop_the_wait():
    failing = [task(1, "failed", desired="shutdown", err="exit 1"), task(1, "failed", desired="shutdown"),
               task(1, "rejected", desired="shutdown", err="No such image"), task(1, "starting")]
    st = converge.evaluate(svc(1), failing, set(), 1)
    assert st.state == "failed" and "No such image" in st.message
    assert converge.evaluate(svc(1), failing[:2] + failing[3:], set(), 1).state == "progress"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def run_wait(states, deadline=100.0, monitor=3.0, poll=1.0):
    """states: per poll, the running count of the one service (replicas 1)."""
    clock, seen = Clock(), []
    it = iter(states)

    def fetch(name):
        running = next(it, states[-1])
        seen.append(running)
        return svc(1), [task(1, "running" if running else "starting")]

    out = converge.wait_for(["web"], fetch, lambda: (set(), 1), deadline, monitor, poll, lambda line: None,
                            clock=clock, sleep=clock.sleep)
    return out, clock.now, seen


def test_monitor_window_must_pass_without_a_dip():
    out, now, seen = run_wait([0, 1, 1, 0, 1, 1, 1, 1])
    assert out.state == "converged" and out.ok
    assert now == 7.0                       # converged at t=4 after the dip at t=3, stable until t=7
    assert out.services["web"].seconds == 4.0


def test_deadline_is_a_timeout_naming_the_service():
    out, now, _ = run_wait([0], deadline=5.0)
    assert out.state == "timeout" and not out.ok and "web" in out.message and now == 5.0
    assert out.services["web"].state == "timeout"


def test_window_overlaps_swarms_own_monitor_but_ends_only_when_swarm_completed():
    clock = Clock()
    states = iter(["updating", "updating", "updating", "updating", "completed"])

    def fetch(name):
        return svc(1, next(states, "completed")), [task(1)]

    out = converge.wait_for(["web"], fetch, lambda: (set(), 1), 100.0, 2.0, 1.0, lambda line: None,
                            clock=clock, sleep=clock.sleep)
    assert out.state == "converged" and clock.now == 4.0   # not 4 + 2: the window ran during "updating"


def test_a_failure_names_the_node_and_converged_records_the_nodes():
    failing = [task(1, "rejected", desired="shutdown", node="w3", err="No such image: app:2") for _ in range(3)]
    st = converge.evaluate(svc(1), failing, set(), 3, hostnames={"w3": "tsc-node3"})
    assert st.state == "failed" and "No such image: app:2 on node tsc-node3" in st.message
    st = converge.evaluate(svc(2), [task(1, node="a"), task(2, node="b")], set(), 2, hostnames={"a": "h1", "b": "h2"})
    assert st.state == "converged" and st.nodes == ("h1", "h2")


def test_a_task_no_node_can_take_fails_after_a_while_with_swarms_reason():
    clock = Clock()
    reason = "no suitable node (max replicas per node limit exceed)"

    def fetch(name):
        return svc(2), [task(1), {"Slot": 2, "DesiredState": "running", "Status": {"State": "pending", "Err": reason}}]

    out = converge.wait_for(["web"], fetch, lambda: (set(), 2, {}), 100.0, 2.0, 1.0, lambda line: None,
                            clock=clock, sleep=clock.sleep)
    assert out.state == "failed" and reason in out.message
    assert converge.UNPLACEABLE_AFTER <= clock.now < converge.UNPLACEABLE_AFTER + 2
