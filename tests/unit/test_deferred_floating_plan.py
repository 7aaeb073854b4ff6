"""Deferred floating tags, the pure decisions: which tags registry-push leaves for later (defer_floating),
and which of them cs-deploy moves after a healthy deploy, given the registry's tag list at that moment."""

from __future__ import annotations

import pytest

from cs_deploy.plan import deferred_of, deployed_digests, promotion
from registry_push.plan import floating_of, split_deferred

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@pytest.mark.parametrize("tags, defer, now, later", [
    (["1.0.0", "1.0", "1", "latest"], True, ["1.0.0"], ["1.0", "1", "latest"]),
    (["1.0.0", "1.0", "1", "latest"], False, ["1.0.0", "1.0", "1", "latest"], []),
    (["1.0.0", "sha-abc", "latest"], True, ["1.0.0", "sha-abc"], ["latest"]),
    (["1.0.0"], True, ["1.0.0"], []),                         # smart floating already held them back
    (["latest"], True, ["latest"], []),                       # nothing to deploy by: pushed now, with a note
])
def test_which_tags_registry_push_defers(tags, defer, now, later):
    got_now, got_later, note = split_deferred(tags, floating_of("1.0.0"), defer)
    assert (got_now, got_later) == (now, later)
    if tags == ["latest"]:
        assert "pushed now" in note


@pytest.mark.parametrize("tags, version, released, move, held", [
    # the normal case: this is the highest release
    (["1.0", "1", "latest"], "1.0.0", ["1.0.0"], ["1.0", "1", "latest"], []),
    # a rebuild of the highest release keeps its tags (ties count)
    (["1.0", "1", "latest"], "1.0.0", ["1.0.0", "0.9.0", "latest"], ["1.0", "1", "latest"], []),
    # 1.1.0 went out while 1.0.1 was deploying: 1.0 still moves, 1 and latest stay on 1.1.0
    (["1.0", "1", "latest"], "1.0.1", ["1.0.0", "1.0.1", "1.1.0"], ["1.0"], ["1", "latest"]),
    # 2.0.0 is out; a 1.x patch moves only its own ranges
    (["1.4", "1", "latest"], "1.4.2", ["1.4.2", "2.0.0"], ["1.4", "1"], ["latest"]),
    # a pre-release being out does not hold a stable release back
    (["2.0", "2", "latest"], "2.0.0", ["2.0.0", "2.1.0-rc.1"], ["2.0", "2", "latest"], []),
    # no SemVer version: moved as registry-push planned them
    (["latest"], None, ["nightly"], ["latest"], []),
    (["latest"], "build-7", [], ["latest"], []),
])
def test_which_deferred_tags_cs_deploy_moves(tags, version, released, move, held):
    assert promotion(tags, version, released) == (move, held)


def test_deferred_record_is_used_only_from_a_successful_push_with_tags_digest_and_targets():
    good = {"status": "success", "deferred": {"tags": ["latest"], "digest": D1, "targets": [{"repo": "r/a"}]}}
    assert deferred_of(good) == good["deferred"]
    assert deferred_of({**good, "status": "failed"}) is None
    assert deferred_of({"status": "success"}) is None
    assert deferred_of(None) is None
    for key in ("tags", "digest", "targets"):
        assert deferred_of({"status": "success", "deferred": {**good["deferred"], key: []}}) is None


def test_deployed_digests_pinned_or_from_the_registry_push_result():
    result = {"status": "success", "image": "reg:5000/a/app", "refs": ["reg:5000/a/app:1.0.0"], "digest": D2}
    assert deployed_digests([f"reg:5000/a/app:1.0.0@{D1}"], result) == {D1}
    assert deployed_digests(["reg:5000/a/app:1.0.0"], result) == {D2}          # aliyun-cs: deployed by tag
    assert deployed_digests(["reg:5000/a/other:1.0.0"], result) == set()
