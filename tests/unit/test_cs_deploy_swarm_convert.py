"""compose → swarm conversion details (docker/cli cli/compose/convert), pure: object names, mounts, networks,
modes and jobs, restart policy, resources, ports, units, env_file, and the job wait."""

from __future__ import annotations

from pathlib import Path

import pytest

from cs_deploy import compose_schema, converge, swarm_convert, swarm_env, swarm_objects, units
from tagship.errors import SettingsError

COMPOSE = {"services": {"app": {"image": "a", "networks": ["front", "host"], "volumes": ["ext:/e", "named:/n"]}},
           "networks": {"front": {"name": "proxy"}, "host": {"external": True}},
           "volumes": {"ext": {"external": True, "name": "pgdata"}, "named": {"name": "shared-data",
                                                                           "driver": "local"},
                       "plain": None},
           "secrets": {"old": {"external": {"name": "legacy"}}}}


def test_named_and_external_objects_keep_their_names():
    objs = swarm_objects.table(COMPOSE, "shop")
    assert objs["networks"]["front"].name == "proxy" and objs["networks"]["default"].name == "shop_default"
    assert objs["volumes"]["ext"].name == "pgdata" and objs["volumes"]["ext"].external
    assert objs["volumes"]["named"].name == "shared-data" and not objs["volumes"]["named"].external
    assert objs["volumes"]["plain"].name == "shop_plain"
    assert objs["secrets"]["old"].name == "legacy" and objs["secrets"]["old"].external


def test_mounts_use_the_names_and_resolve_relative_binds(tmp_path):
    objs = swarm_objects.table(COMPOSE, "shop")["volumes"]
    mounts = swarm_convert.mounts(["ext:/e", "named:/n:nocopy", "plain:/p", "./conf:/c:ro,rslave", "/data",
                                   {"type": "tmpfs", "target": "/t", "tmpfs": {"size": "1m"}}], "shop", objs, tmp_path)
    assert mounts[0] == {"Type": "volume", "Target": "/e", "Source": "pgdata", "VolumeOptions": {}}
    assert mounts[1]["Source"] == "shared-data" and mounts[1]["VolumeOptions"]["NoCopy"] is True
    assert mounts[1]["VolumeOptions"]["DriverConfig"] == {"Name": "local", "Options": {}}
    assert mounts[2]["Source"] == "shop_plain"
    assert mounts[3] == {"Type": "bind", "Target": "/c", "Source": str(tmp_path / "conf"), "ReadOnly": True,
                         "BindOptions": {"Propagation": "rslave"}}
    assert mounts[4] == {"Type": "volume", "Target": "/data"}
    assert mounts[5]["TmpfsOptions"] == {"SizeBytes": 1 << 20}
    with pytest.raises(ValueError, match="volume 'nope' is not declared"):
        swarm_convert.mounts(["nope:/x"], "shop", objs, tmp_path)


def test_undeclared_network_is_named_and_host_gets_no_alias():
    objs = swarm_objects.table(COMPOSE, "shop")
    nets = swarm_convert.networks("app", COMPOSE["services"]["app"], objs["networks"])
    assert nets == [{"Target": "host"}, {"Target": "proxy", "Aliases": ["app"]}]
    bad = {**COMPOSE, "services": {"app": {"image": "a", "networks": ["backend"]}}}
    assert swarm_objects.undeclared(bad, objs) == [
        "services.app.networks: network 'backend' is not declared under networks:"]


@pytest.mark.parametrize("deploy, mode", [
    ({}, {"Replicated": {"Replicas": 1}}), ({"mode": "global"}, {"Global": {}}),
    ({"mode": "replicated-job", "replicas": 3}, {"ReplicatedJob": {"MaxConcurrent": 3, "TotalCompletions": 3}}),
    ({"mode": "global-job"}, {"GlobalJob": {}}),
])
def test_modes(deploy, mode):
    assert swarm_convert.mode(deploy) == mode


@pytest.mark.parametrize("restart, policy", [
    ("no", {"Condition": "none"}), ("always", {"Condition": "any"}), ("unless-stopped", {"Condition": "any"}),
    ("on-failure:3", {"Condition": "on-failure", "MaxAttempts": 3}),
])
def test_restart_falls_back_to_the_container_restart_key(restart, policy):
    assert swarm_convert.restart_policy({"restart": restart}, {}) == policy


def test_resources_ports_and_units():
    res = swarm_convert.resources({"resources": {"limits": {"cpus": "0.5", "memory": "1T", "pids": 100},
                                                 "reservations": {"memory": "4M"}}})
    assert res == {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 1 << 40, "Pids": 100},
                   "Reservations": {"MemoryBytes": 4 << 20}}
    ports = swarm_convert.ports(["8000-8001:9000-9001/udp", "53"])
    assert [(p["PublishedPort"], p["TargetPort"], p["Protocol"]) for p in ports[:2]] == [
        (8000, 9000, "udp"), (8001, 9001, "udp")]
    assert ports[2] == {"Protocol": "tcp", "TargetPort": 53, "PublishMode": "ingress"}
    assert units.duration_ns("2us") == 2000 and units.duration_ns("1m30s") == 90 * 10 ** 9
    with pytest.raises(ValueError):
        units.duration_ns("10 seconds")


def test_env_file_then_environment_and_bare_keys(tmp_path: Path):
    (tmp_path / "app.env").write_text("# comment\nA=from-file\nB=file\nFROM_VARS\n")
    compose = {"services": {"app": {"image": "a", "env_file": "app.env",
                                    "environment": ["B=inline", "BARE", "MISSING"]}}}
    swarm_env.resolve(compose, {"BARE": "from-vars", "FROM_VARS": "v"}, tmp_path)
    assert compose["services"]["app"]["environment"] == {"A": "from-file", "B": "inline", "FROM_VARS": "v",
                                                         "BARE": "from-vars"}
    with pytest.raises(SettingsError, match="env_file: cannot read nope.env"):
        swarm_env.resolve({"services": {"app": {"env_file": ["nope.env"]}}}, {}, tmp_path)


def test_docker_schema_keys():
    assert compose_schema.problems({"name": "x", "services": {"a": {"image": "a", "runtime": "runc",
                                                                   "depends_on": {"b": {}}}}}) == [
        "(top level): 'name' is not allowed (docker stack deploy's schema refuses it)",
        "services.a: 'runtime' is not allowed (docker stack deploy's schema refuses it)",
        "services.a.depends_on: must be a list of service names for docker stack deploy"]


def _task(state, index=0, node="n1"):
    return {"Status": {"State": state}, "DesiredState": "complete", "JobIteration": {"Index": index},
            "NodeID": node}


def test_a_job_is_green_on_its_completions_and_red_when_tasks_keep_failing():
    svc = {"Spec": {"Mode": {"ReplicatedJob": {"TotalCompletions": 2}}}, "JobStatus": {"JobIteration": {"Index": 5}}}
    assert converge.evaluate(svc, [_task("complete", 5), _task("running", 5)], set(), 1).state == "progress"
    done = converge.evaluate(svc, [_task("complete", 5), _task("complete", 5), _task("failed", 4)], set(), 1)
    assert done.state == "converged" and done.running == 2
    failed = converge.evaluate(svc, [_task("failed", 5)] * 3, set(), 1)
    assert failed.state == "failed" and "3 job tasks failed" in failed.message
    old = converge.evaluate(svc, [_task("complete", 4)] * 2, set(), 1)     # a previous iteration's tasks
    assert old.state == "progress"
    glob = {"Spec": {"Mode": {"GlobalJob": {}}}, "JobStatus": {}}
    assert converge.evaluate(glob, [_task("complete", 0, "n1"), _task("running", 0, "n2")], set(), 2).state == "progress"
    assert converge.evaluate(glob, [_task("complete", 0, "n1"), _task("complete", 0, "n2")], set(), 2).state == \
        "converged"


def test_a_version_2_file_is_refused_as_docker_does():
    assert compose_schema.problems({"version": "2", "services": {"a": {"image": "a"}}}) == [
        "version: '2' is not a v3 compose file (docker stack deploy takes 3.x or no version)"]
    assert compose_schema.problems({"version": "3.8", "services": {"a": {"image": "a"}}}) == []
