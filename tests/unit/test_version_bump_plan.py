"""version-bump's pure decisions: bumps from commit messages, the next version, the monotonic guard."""

from __future__ import annotations

import subprocess

import pytest

from tagship.versions import parse
from version_bump.plan import (
    Release,
    auto_part,
    check_increase,
    commit_level,
    next_version,
    parse_releases,
    previous_release,
    render_env,
    semver_disagreement,
)

COMMITS = [
    ("feat: add export", "minor"),
    ("feat(api): add export", "minor"),
    ("Feat: capitalised type", "minor"),
    ("fix: off by one", "patch"),
    ("fix(ui)!: drop IE", "major"),
    ("perf: faster", "patch"),
    ("refactor!: new config format", "major"),
    ("chore: bump deps\n\nBREAKING CHANGE: drops python 3.8", "major"),
    ("feat: x\n\nBREAKING-CHANGE: y", "major"),
    ("docs: readme", None),
    ("chore(release): 1.2.0", None),
    ("Merge branch 'fix/foo'", None),
    ("fixed the thing", None),  # not conventional
    ("feat:missing space", None),
    ("feat: mention of breaking change: in text", "minor"),  # only the footer token counts
    ("", None),
]


@pytest.mark.parametrize("message,level", COMMITS)
def test_commit_level(message, level):
    assert commit_level(message) == level


@pytest.mark.parametrize(
    "messages,current,major_on_zero,part",
    [
        (["fix: a", "feat: b", "docs: c"], "1.2.3", False, "minor"),
        (["fix: a", "perf: b"], "1.2.3", False, "patch"),
        (["fix: a", "feat!: b"], "1.2.3", False, "major"),
        (["feat!: b"], "0.4.1", False, "minor"),  # breaking on 0.x
        (["feat!: b"], "0.4.1", True, "major"),
        (["docs: only"], "1.0.0", False, "patch"),  # every build gets a new version
        ([], "1.0.0", False, "patch"),
        (["feat: first"], None, False, "minor"),
    ],
)
def test_auto_part(messages, current, major_on_zero, part):
    got, why = auto_part(messages, parse(current) if current else None, major_on_zero=major_on_zero)
    assert got == part
    assert f"{len(messages)} commit(s)" in why


def rel(tag, commit="c" * 40, scheme="semver"):
    return Release(tag, parse(tag.removeprefix("v"), scheme), commit)


def test_parse_releases_strips_prefix_and_lists_the_rest():
    tags = [("v1.2.0", "a"), ("1.3.0", "b"), ("latest", "c"), ("v1.2", "d"), ("cmd/api/v2.0.0", "e")]
    releases, ignored = parse_releases(tags, "v", "semver")
    assert [(r.tag, r.version.text, r.commit) for r in releases] == [("v1.2.0", "1.2.0", "a"),
                                                                    ("1.3.0", "1.3.0", "b")]
    assert ignored == ["latest", "v1.2", "cmd/api/v2.0.0"]
    releases, _ = parse_releases(tags, "cmd/api/v", "semver")
    assert [r.tag for r in releases] == ["1.3.0", "cmd/api/v2.0.0"]
    releases, _ = parse_releases(tags, "v", "pep440")
    assert [r.tag for r in releases] == ["v1.2.0", "1.3.0", "v1.2"]


@pytest.mark.parametrize(
    "tags,part,as_pre,expected,base",
    [
        (["v1.2.0", "v1.10.0", "v1.9.5"], "patch", False, "1.10.1", "v1.10.0"),  # precedence, not text order
        (["v1.2.0", "v1.3.0-rc.1"], "minor", False, "1.3.0", "v1.3.0-rc.1"),  # finishes the rc
        (["v1.2.0"], "minor", True, "1.3.0-rc.1", "v1.2.0"),
        (["v1.2.0", "v1.3.0-rc.1", "v1.3.0-rc.2"], "prerelease", False, "1.3.0-rc.3", "v1.3.0-rc.2"),
        ([], "minor", False, "0.1.0", None),
    ],
)
def test_next_version(tags, part, as_pre, expected, base):
    version, got_base = next_version([rel(t) for t in tags], part, "semver", as_prerelease=as_pre)
    assert version == expected
    assert (got_base.tag if got_base else None) == base


def test_next_version_as_prerelease_counts_past_existing_tags():
    releases = [rel("v1.2.0"), rel("v1.3.0-rc.1")]
    # the highest is the rc, a minor finishes it; as a pre-release it must not reuse rc.1
    assert next_version(releases, "minor", "semver", as_prerelease=True)[0] == "1.3.0-rc.2"


HEAD = "h" * 40
OTHER = "o" * 40
RELEASED = [rel("v1.2.8", OTHER), rel("v1.3.0", OTHER), rel("v2.0.0-rc.1", OTHER)]

GUARD = [
    # version, mode, violation text (None: allowed)
    ("1.2.9", "line", None),  # hotfix of an old line
    ("1.2.7", "line", "1.2.7 is lower than 1.2.8 (v1.2.8, the highest release of 1.2.x); require_increase: line"),
    ("1.2.8", "line", "1.2.8 is already released as v1.2.8 on commit oooooooooooo"),
    ("1.2.9", "global", "1.2.9 is lower than 2.0.0-rc.1 (v2.0.0-rc.1, the highest release)"),
    ("2.0.0", "global", None),
    ("2.0.0-rc.0", "global", "2.0.0-rc.0 is lower than 2.0.0-rc.1"),  # prerelease identifiers compared
    ("2.0.0-rc.2", "line", None),
    ("1.3.0+build.5", "line", "1.3.0+build.5 is already released as v1.3.0"),  # metadata is not a new version
    ("1.2.7", "off", None),
    ("1.4.0", "line", None),  # a new line
]


@pytest.mark.parametrize("version,mode,violation", GUARD)
def test_guard(version, mode, violation):
    got = check_increase(parse(version), RELEASED, HEAD, mode)
    if violation is None:
        assert got is None
    else:
        assert got is not None and got.startswith(violation), got


def test_guard_allows_a_rebuild_of_the_own_tag_on_the_same_commit():
    released = [rel("v1.3.0", HEAD), rel("v1.2.0", OTHER)]
    assert check_increase(parse("1.3.0"), released, HEAD, "global") is None
    assert "already released" in check_increase(parse("1.3.0"), released, OTHER, "global")


def test_guard_pep440_order():
    released = [rel("v1.0", OTHER, "pep440"), rel("v1.1rc1", OTHER, "pep440")]
    assert check_increase(parse("1.1.dev3", "pep440"), released, HEAD, "line") is not None  # dev < rc
    assert check_increase(parse("1.1", "pep440"), released, HEAD, "line") is None
    assert check_increase(parse("1.0.post1", "pep440"), released, HEAD, "line") is None


def test_previous_release():
    assert previous_release(parse("1.3.1"), RELEASED).tag == "v1.3.0"
    assert previous_release(parse("1.2.9"), RELEASED).tag == "v1.2.8"
    assert previous_release(parse("0.1.0"), RELEASED) is None


def test_semver_disagreement():
    assert semver_disagreement({}, parse("1.2.3")) is None
    assert semver_disagreement({"DRONE_SEMVER": "1.2.3"}, parse("1.2.3")) is None
    assert semver_disagreement({"DRONE_SEMVER": "1.2.3"}, parse("1.2.4")) == (
        "DRONE_SEMVER is 1.2.3 but the version is 1.2.4")
    assert semver_disagreement({"DRONE_SEMVER": "1.0.0-rc.1"}, parse("1.0.0rc1", "pep440")) is None


def test_render_env_is_sourceable_by_sh():
    values = {"VERSION": "1.2.3", "EMPTY": "", "ODD": "it's $HOME `x` \"q\""}
    text = render_env(values)
    out = subprocess.run(["sh", "-c", ". /dev/stdin; printf '%s|%s|%s' \"$VERSION\" \"$EMPTY\" \"$ODD\""],
                         input=text, capture_output=True, text=True, check=True).stdout
    assert out == "1.2.3||it's $HOME `x` \"q\""
