"""cs-deploy preflight: node state, duplicate hostnames, engine versions, quorum, image platforms (pure part)."""

from __future__ import annotations

from cs_deploy import preflight


def node(host, state="ready", avail="active", version="20.10.24", manager=None):
    n = {"ID": f"id-{host}-{state}", "Status": {"State": state}, "Spec": {"Availability": avail},
         "Description": {"Hostname": host, "Engine": {"EngineVersion": version},
                         "Platform": {"OS": "linux", "Architecture": "x86_64"}}}
    if manager:
        n["ManagerStatus"] = {"Reachability": manager}
    return n


def test_a_healthy_cluster_has_no_findings():
    assert preflight.check_nodes([node("a", manager="reachable"), node("b"), node("c")]) == []


def test_each_condition_is_named():
    found = preflight.check_nodes([node("a", manager="reachable"), node("b", state="down"), node("c", avail="drain"),
                                   node("c", version="20.10.5")])
    text = [f"{f.check}: {f.message}" for f in found]
    assert "nodes: node b is down" in text
    assert "nodes: node c is drain (takes no new tasks)" in text
    assert any(t.startswith("hostnames: 2 nodes share the hostname c") for t in text)
    assert "versions: engine versions differ across nodes: 20.10.24 on a, c; 20.10.5 on c" in text
    assert not any(f.fatal for f in found)


def test_lost_quorum_is_fatal():
    found = preflight.check_nodes([node("a", manager="reachable"), node("b", state="down", manager="unreachable")])
    assert [f.check for f in found if f.fatal] == ["quorum"]


def test_an_image_for_another_platform_or_unpullable():
    ok = {"Platforms": [{"os": "linux", "architecture": "amd64"}]}
    arm = {"Platforms": [{"os": "linux", "architecture": "arm64"}]}
    want = {("linux", "amd64")}
    assert preflight.check_image("web", "r/app:1", lambda ref: ok, want) == []
    assert "not built for linux/amd64" in preflight.check_image("web", "r/app:1", lambda ref: arm, want)[0].message

    def refuse(ref):
        raise RuntimeError("unauthorized: authentication required")
    assert "cannot pull r/app:1: unauthorized" in preflight.check_image("web", "r/app:1", refuse, want)[0].message
