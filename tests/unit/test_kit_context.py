"""The Drone context, with Woodpecker's CI_* as fallback."""

from pathlib import Path

from tagship.context import load_context


def test_drone_tag_build():
    ctx = load_context({"DRONE": "true", "DRONE_TAG": "v1.4.0", "DRONE_COMMIT_REF": "refs/tags/v1.4.0",
                        "DRONE_BUILD_EVENT": "tag", "DRONE_COMMIT_SHA": "a" * 40, "DRONE_REPO": "ops/cmdb_api",
                        "DRONE_BUILD_NUMBER": "42", "DRONE_WORKSPACE": "/drone/src",
                        "DRONE_SEMVER": "1.4.0", "DRONE_SEMVER_MAJOR": "1", "DRONE_CARD_PATH": "/dev/card"})
    assert (ctx.system, ctx.tag_name, ctx.event, ctx.is_tag) == ("drone", "v1.4.0", "tag", True)
    assert ctx.short_sha == "a" * 8 and ctx.build_number == "42" and ctx.repo == "ops/cmdb_api"
    assert ctx.workspace == Path("/drone/src") and ctx.card_path == Path("/dev/card")
    assert ctx.semver == {"DRONE_SEMVER": "1.4.0", "DRONE_SEMVER_MAJOR": "1"}


def test_woodpecker_fallback():
    ctx = load_context({"CI": "woodpecker", "CI_COMMIT_TAG": "v2.0.0", "CI_PIPELINE_EVENT": "tag",
                        "CI_COMMIT_SHA": "b" * 40, "CI_REPO": "ops/x", "CI_PIPELINE_NUMBER": "7",
                        "CI_WORKSPACE": "/woodpecker/src", "CI_COMMIT_BRANCH": "main"})
    assert (ctx.system, ctx.tag, ctx.event, ctx.repo, ctx.build_number) == \
        ("woodpecker", "v2.0.0", "tag", "ops/x", "7")
    assert ctx.workspace == Path("/woodpecker/src") and ctx.branch == "main"


def test_drone_wins_over_ci():
    ctx = load_context({"DRONE_TAG": "v1.0.0", "CI_COMMIT_TAG": "v9.9.9"})
    assert ctx.tag == "v1.0.0"


def test_tag_from_ref_only_and_push_build(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx = load_context({"DRONE_COMMIT_REF": "refs/tags/v3.1.0"})
    assert ctx.tag_name == "v3.1.0" and ctx.is_tag
    push = load_context({"DRONE_COMMIT_REF": "refs/heads/main", "DRONE_BUILD_EVENT": "push"})
    assert not push.is_tag and push.tag_name is None and push.workspace == tmp_path
