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
    pick_base,
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
    tags = [("v1.2.0", "a", 10), ("1.3.0", "b", 20), ("latest", "c", 0), ("v1.2", "d", 0),
            ("cmd/api/v2.0.0", "e", 0)]
    releases, ignored = parse_releases(tags, "v", "semver")
    assert [(r.tag, r.version.text, r.commit, r.created) for r in releases] == [
        ("v1.2.0", "1.2.0", "a", 10), ("1.3.0", "1.3.0", "b", 20)]
    assert ignored == ["latest", "v1.2", "cmd/api/v2.0.0"]
    releases, _ = parse_releases(tags, "cmd/api/v", "semver")
    assert [r.tag for r in releases] == ["1.3.0", "cmd/api/v2.0.0"]
    releases, _ = parse_releases(tags, "v", "pep440")
    assert [r.tag for r in releases] == ["v1.2.0", "1.3.0", "v1.2"]


@pytest.mark.parametrize(
    "tags,merged,part,as_pre,expected,base",
    [
        (["v1.2.0", "v1.10.0", "v1.9.5"], None, "patch", False, "1.10.1", "v1.10.0"),  # precedence, not text
        (["v1.2.0", "v1.3.0-rc.1"], None, "minor", False, "1.3.0", "v1.3.0-rc.1"),  # finishes the rc
        (["v1.2.0"], None, "minor", True, "1.3.0-rc.1", "v1.2.0"),
        (["v1.2.0", "v1.3.0-rc.1", "v1.3.0-rc.2"], None, "prerelease", False, "1.3.0-rc.3", "v1.3.0-rc.2"),
        ([], None, "minor", False, "0.1.0", None),
        (["v1.2.0", "v1.2.1", "v2.0.0"], {"v1.2.0", "v1.2.1"}, "patch", False, "1.2.2", "v1.2.1"),  # hotfix line
        (["v1.2.0", "v2.0.0"], set(), "patch", False, "2.0.1", "v2.0.0"),  # nothing merged: highest of all
    ],
)
def test_next_version(tags, merged, part, as_pre, expected, base):
    releases = [rel(t) for t in tags]
    got_base, _ = pick_base(releases, set(tags) if merged is None else merged)
    assert (got_base.tag if got_base else None) == base
    assert next_version(got_base, releases, part, "semver", as_prerelease=as_pre) == expected


def test_next_version_as_prerelease_counts_past_existing_tags():
    releases = [rel("v1.2.0"), rel("v1.3.0-rc.1")]
    # the highest is the rc, a minor finishes it; as a pre-release it must not reuse rc.1
    assert next_version(releases[1], releases, "minor", "semver", as_prerelease=True) == "1.3.0-rc.2"


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
    got, _ = check_increase(parse(version), RELEASED, HEAD, mode)
    if violation is None:
        assert got is None
    else:
        assert got is not None and got.startswith(violation), got


def test_guard_rebuild_on_the_same_commit():
    own = Release("v1.3.0", parse("1.3.0"), HEAD, created=100)
    later = Release("v1.3.1", parse("1.3.1"), OTHER, created=200)
    earlier = Release("v1.3.1", parse("1.3.1"), OTHER, created=50)
    # a re-run of v1.3.0 after v1.3.1 was tagged: fine, and said so
    assert check_increase(parse("1.3.0"), [own, later], HEAD, "line", own_tag="v1.3.0") == (
        None, "a rebuild: v1.3.0 already points at this commit; v1.3.1 came later")
    # v1.3.0 tagged after v1.3.1 already existed: a new, lower release
    assert check_increase(parse("1.3.0"), [own, earlier], HEAD, "line", own_tag="v1.3.0")[0].startswith(
        "1.3.0 is lower than 1.3.1 (v1.3.1")
    # tagged in the same second: not provably earlier, so refused
    same_time = Release("v1.3.1", parse("1.3.1"), OTHER, created=100)
    assert check_increase(parse("1.3.0"), [own, same_time], HEAD, "line", own_tag="v1.3.0")[0] is not None
    # the same version on another commit
    assert "already released as v1.3.0" in check_increase(parse("1.3.0"), [own], OTHER, "global")[0]
    assert check_increase(parse("1.3.0"), [own], HEAD, "global") == (
        None, "a rebuild: v1.3.0 already points at this commit")


def test_guard_pep440_order():
    released = [rel("v1.0", OTHER, "pep440"), rel("v1.1rc1", OTHER, "pep440")]
    assert check_increase(parse("1.1.dev3", "pep440"), released, HEAD, "line")[0] is not None  # dev < rc
    assert check_increase(parse("1.1", "pep440"), released, HEAD, "line") == (None, None)
    assert check_increase(parse("1.0.post1", "pep440"), released, HEAD, "line") == (None, None)


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
