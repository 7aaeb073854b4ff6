"""Table tests for the kit's version/tag rule (tagship.versions): parsing, precedence, docker tags, bumps."""

from __future__ import annotations

import pytest

from tagship.versions import (
    VersionError,
    auto_tags,
    bump,
    describe,
    docker_tags,
    highest,
    is_prerelease,
    parse,
    strip_prefix,
    valid_docker_tag,
)

# --- parsing: the message names the rule --------------------------------------------------------------------

SEMVER_BAD = [
    ("1.2", "1.2 is not SemVer 2.0.0: it needs MAJOR.MINOR.PATCH"),
    ("1", "it needs MAJOR.MINOR.PATCH"),
    ("1.2.3.4", "it needs MAJOR.MINOR.PATCH"),
    ("v1.2.3", "starts with 'v'"),
    ("18.06.0", "leading zeros ('06')"),
    ("1.2.x", "non-negative integers ('x')"),
    ("1.2.3-01", "numeric pre-release identifiers must not have leading zeros ('01')"),
    ("1.2.3-rc..1", "pre-release identifiers must not be empty"),
    ("1.2.3-rc_1", "only [0-9A-Za-z-] ('rc_1')"),
    ("1.2.3+", "build metadata"),
    ("20190203", "it needs MAJOR.MINOR.PATCH"),
    ("", "it is empty"),
]


@pytest.mark.parametrize("text,message", SEMVER_BAD)
def test_semver_rejects_with_the_rule(text, message):
    with pytest.raises(VersionError, match="is not SemVer 2.0.0") as exc:
        parse(text)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "text,fields",
    [
        ("1.2.3", (1, 2, 3, None, None)),
        ("0.0.0", (0, 0, 0, None, None)),
        ("1.2.3-rc.1+b.7", (1, 2, 3, "rc.1", "b.7")),
        ("10.20.30-alpha-beta.0", (10, 20, 30, "alpha-beta.0", None)),
    ],
)
def test_semver_fields(text, fields):
    v = parse(text)
    assert (v.major, v.minor, v.patch, v.prerelease, v.build) == fields


@pytest.mark.parametrize(
    "text,fields,public",
    [
        ("1.2", (1, 2, 0, None), "1.2"),
        ("1.2.3rc1", (1, 2, 3, "rc1"), "1.2.3rc1"),
        ("1.0.0-rc.1", (1, 0, 0, "rc1"), "1.0.0rc1"),  # PEP 440 normalisation
        ("1.2.3.dev4", (1, 2, 3, "dev4"), "1.2.3.dev4"),
        ("1.2.3a1.dev2", (1, 2, 3, "a1.dev2"), "1.2.3a1.dev2"),
        ("1.2.3.post1", (1, 2, 3, None), "1.2.3.post1"),
        ("1.2.3+local.7", (1, 2, 3, None), "1.2.3"),
        ("18.06.0", (18, 6, 0, None), "18.6.0"),
    ],
)
def test_pep440_fields(text, fields, public):
    v = parse(text, "pep440")
    assert (v.major, v.minor, v.patch, v.prerelease) == fields
    assert v.public == public


def test_pep440_rejects_with_the_rule():
    with pytest.raises(VersionError, match="1.2.x is not a PEP 440 version"):
        parse("1.2.x", "pep440")


def test_unknown_scheme():
    with pytest.raises(VersionError, match="unknown version scheme 'calver'"):
        parse("1.2.3", "calver")


# --- precedence ----------------------------------------------------------------------------------------------

# semver.org §11: each is lower than the next
SEMVER_ORDER = [
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
    "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0",
]
PEP440_ORDER = [
    "1.0.dev1", "1.0a1.dev1", "1.0a1", "1.0a2", "1.0b1", "1.0rc1", "1.0rc2", "1.0", "1.0.post1.dev1",
    "1.0.post1", "1.0.1", "1.1.dev1", "1.1", "1.10", "1!0.1",
]


@pytest.mark.parametrize("scheme,order", [("semver", SEMVER_ORDER), ("pep440", PEP440_ORDER)])
def test_precedence(scheme, order):
    parsed = [parse(t, scheme) for t in order]
    for lower, higher in zip(parsed, parsed[1:]):
        assert lower < higher, (lower.text, higher.text)
    assert [v.text for v in sorted(reversed(parsed))] == order


def test_build_metadata_does_not_change_semver_precedence():
    assert parse("1.2.3+a") == parse("1.2.3+b") == parse("1.2.3")
    assert not parse("1.2.3+b") > parse("1.2.3+a")


def test_prerelease_flags():
    assert is_prerelease("1.2.3-rc.1") and not is_prerelease("1.2.3+build")
    assert is_prerelease("1.2.3.dev1", "pep440") and is_prerelease("1.2.3b2", "pep440")
    assert not is_prerelease("1.2.3.post2", "pep440")


def test_highest_ignores_unparsable_and_can_skip_prereleases():
    tags = ["1.2.0", "1.10.0-rc.1", "1.9.0", "latest", "1.2", "2.0.0-beta"]
    assert highest(tags) == "2.0.0-beta"
    assert highest(tags, stable_only=True) == "1.9.0"
    assert highest(["junk"]) is None and highest([]) is None
    assert highest(["1.0rc1", "1.0", "1.0.post1"], "pep440") == "1.0.post1"


def test_strip_prefix_removes_one_prefix():
    assert strip_prefix("refs/tags/v1.2.3") == "1.2.3"
    assert strip_prefix("vv1.2.3") == "v1.2.3"
    assert strip_prefix("release-1.2.3", "release-") == "1.2.3"
    assert strip_prefix("1.2.3") == "1.2.3"


@pytest.mark.parametrize(
    "tag,ok",
    [("1.2.3", True), ("latest", True), ("_x", True), ("1.2.3+b7", False), (".x", False), ("-x", False),
     ("a" * 128, True), ("a" * 129, False), ("", False), ("1!2.0", False)],
)
def test_valid_docker_tag(tag, ok):
    assert valid_docker_tag(tag) is ok


# --- research/registry-push.md §(b): every row, drone-docker auto_tag column -------------------------------

AUTO_TAG_ROWS = [
    # ref,                     floating="always" (drone-docker exactly)
    ("refs/heads/main", ["latest"]),
    ("refs/heads/feat/a", []),  # drone-docker skips the build
    ("refs/tags/v1.2.3", ["1.2.3", "1.2", "1"]),  # a tag event never gets latest
    ("refs/tags/v0.9.0", ["0.9.0", "0.9"]),  # never a bare 0
    ("refs/tags/v1.2.3-rc1", ["1.2.3-rc1"]),
    # drone-docker gives only "1.2.3+b7", an invalid docker tag (the push fails); we drop the metadata and
    # treat it as the stable release it is by SemVer precedence, as metadata-action does
    ("refs/tags/v1.2.3+b7", ["1.2.3", "1.2", "1"]),
]


@pytest.mark.parametrize("ref,tags", AUTO_TAG_ROWS)
def test_auto_tags_rows(ref, tags):
    got = auto_tags(ref, None, default_branch="main", branch=ref.rsplit("/", 1)[-1], floating="always")
    assert sorted(got) == sorted(tags)


@pytest.mark.parametrize("ref", ["refs/tags/1.2", "refs/tags/20190203", "refs/tags/v18.06.0"])
def test_auto_tags_rejects_non_semver_tags_like_drone_docker(ref):
    with pytest.raises(VersionError, match="is not SemVer 2.0.0"):
        auto_tags(ref, None, default_branch="main", branch=None)


def test_auto_tags_suffix_and_tag_argument():
    assert auto_tags(None, "v1.9.2", default_branch="main", branch=None, suffix="nanoserver", floating="always") == [
        "1.9.2-nanoserver", "1.9-nanoserver", "1-nanoserver"]
    assert auto_tags("refs/heads/main", None, default_branch="main", branch="main", suffix="linux") == ["linux"]
    assert auto_tags(None, None, default_branch="main", branch="main") == ["latest"]
    assert auto_tags(None, None, default_branch="main", branch="dev") == []


def test_auto_tags_smart_on_a_hotfix_tag():
    released = ["1.2.8", "1.3.0"]
    assert auto_tags("refs/tags/v1.2.9", None, default_branch="main", branch=None, released=released) == [
        "1.2.9", "1.2"]


# --- metadata-action column (latest=auto, full floating) and smart floating ------------------------------

@pytest.mark.parametrize(
    "version,tags",
    [
        ("1.2.3", ["1.2.3", "1.2", "1", "latest"]),
        ("0.9.0", ["0.9.0", "0.9", "latest"]),  # metadata-action gives a bare 0 (#70); we never do
        ("1.2.3-rc1", ["1.2.3-rc1"]),
        ("1.2.3+b7", ["1.2.3", "1.2", "1", "latest"]),
    ],
)
def test_docker_tags_first_release(version, tags):
    assert docker_tags(version, []) == tags


FLOATING = [
    # version, released, smart tags
    ("1.2.9", ["1.2.8", "1.3.0"], ["1.2.9", "1.2"]),  # hotfix of an old line: 1 and latest stay on 1.3.0
    ("1.2.7", ["1.2.8", "1.3.0"], ["1.2.7"]),  # not even the highest of 1.2
    ("1.4.0", ["1.2.8", "1.3.0", "2.0.0"], ["1.4.0", "1.4", "1"]),  # highest of 1.x but 2.0.0 keeps latest
    ("2.0.1", ["1.9.0", "2.0.0", "2.1.0-rc.1"], ["2.0.1", "2.0", "2", "latest"]),  # prereleases do not count
    ("1.3.0", ["1.3.0", "1.2.0"], ["1.3.0", "1.3", "1", "latest"]),  # a rebuild keeps its tags
    ("0.3.1", ["0.4.0"], ["0.3.1", "0.3"]),
    ("1.0.0", ["1.0.0-rc.2", "junk", "v9"], ["1.0.0", "1.0", "1", "latest"]),  # unparsable ignored
    ("3.0.0-rc.1", ["2.0.0"], ["3.0.0-rc.1"]),
]


@pytest.mark.parametrize("version,released,tags", FLOATING)
def test_smart_floating(version, released, tags):
    assert docker_tags(version, released) == tags


def test_floating_always_and_never_and_latest_modes():
    released = ["1.2.8", "1.3.0"]
    assert docker_tags("1.2.9", released, floating="always") == ["1.2.9", "1.2", "1", "latest"]
    assert docker_tags("1.2.9", released, floating="never") == ["1.2.9"]
    assert docker_tags("1.2.9", released, latest="always") == ["1.2.9", "1.2", "latest"]
    assert docker_tags("1.4.0", released, latest="never") == ["1.4.0", "1.4", "1"]
    assert docker_tags("1.4.0-rc.1", released, latest="always") == ["1.4.0-rc.1"]


def test_suffix_and_extra_tags():
    assert docker_tags("1.2.3", [], suffix="alpine", extra=["stable", "1.2.3-alpine"]) == [
        "1.2.3-alpine", "1.2-alpine", "1-alpine", "alpine", "stable"]


def test_invalid_tags_are_refused():
    with pytest.raises(VersionError, match="not a valid docker tag: bad/tag"):
        docker_tags("1.2.3", [], extra=["bad/tag"])
    with pytest.raises(VersionError, match="not a valid docker tag"):
        docker_tags("1!2.0.0", [], scheme="pep440")
    with pytest.raises(VersionError, match="latest must be one of"):
        docker_tags("1.2.3", [], latest="sometimes")


def test_pep440_docker_tags():
    assert docker_tags("1.2.3rc1", [], scheme="pep440") == ["1.2.3rc1"]
    assert docker_tags("1.2.3.post1", ["1.2.3", "1.3.0"], scheme="pep440") == ["1.2.3.post1", "1.2"]
    assert docker_tags("2.0", [], scheme="pep440") == ["2.0", "2", "latest"]  # X.Y is the full version: once


# --- bumps ---------------------------------------------------------------------------------------------------

BUMPS = [
    ("1.2.3", "patch", "semver", "1.2.4"),
    ("1.2.3", "minor", "semver", "1.3.0"),
    ("1.2.3", "major", "semver", "2.0.0"),
    ("1.2.3+b.1", "patch", "semver", "1.2.4"),
    ("1.2.3", "prerelease", "semver", "1.2.4-rc.1"),
    ("1.3.0-rc.1", "prerelease", "semver", "1.3.0-rc.2"),
    ("1.3.0-rc", "prerelease", "semver", "1.3.0-rc.1"),
    ("1.3.0-alpha.3", "prerelease", "semver", "1.3.0-rc.1"),  # rc > alpha: same release
    ("1.3.0-rc.1", "patch", "semver", "1.3.0"),  # finishes the release
    ("1.3.0-rc.1", "minor", "semver", "1.3.0"),
    ("1.3.1-rc.1", "minor", "semver", "1.4.0"),
    ("2.0.0-rc.1", "major", "semver", "2.0.0"),
    ("1.2.3", "patch", "pep440", "1.2.4"),
    ("1.2", "minor", "pep440", "1.3.0"),
    ("1.2.3", "prerelease", "pep440", "1.2.4rc1"),
    ("1.3.0rc1", "prerelease", "pep440", "1.3.0rc2"),
    ("1.3.0rc1", "patch", "pep440", "1.3.0"),
    ("1.2.3.post1", "patch", "pep440", "1.2.4"),
    ("1.2.4.dev1", "patch", "pep440", "1.2.4"),
]


@pytest.mark.parametrize("current,part,scheme,expected", BUMPS)
def test_bump(current, part, scheme, expected):
    assert bump(current, part, scheme) == expected
    assert parse(expected, scheme) > parse(current, scheme)


def test_bump_tokens():
    assert bump("1.2.3", "prerelease", token="beta") == "1.2.4-beta.1"
    assert bump("1.2.3", "prerelease", "pep440", token="dev") == "1.2.4.dev1"
    assert bump("1.2.4.dev1", "prerelease", "pep440", token="dev") == "1.2.4.dev2"
    assert bump("1.2.3", "prerelease", "pep440", token="beta") == "1.2.4b1"
    with pytest.raises(VersionError, match="prerelease_token 'pre_view'"):
        bump("1.2.3", "prerelease", token="pre_view")
    with pytest.raises(VersionError, match="not a PEP 440 pre-release"):
        bump("1.2.3", "prerelease", "pep440", token="nightly")


def test_describe():
    assert describe("1.2.3-rc.1+b7") == {
        "VERSION": "1.2.3-rc.1", "VERSION_MAJOR": "1", "VERSION_MINOR": "2", "VERSION_PATCH": "3",
        "VERSION_PRERELEASE": "rc.1", "VERSION_BUILD": "b7", "IS_PRERELEASE": "true"}
    assert describe("2.0.0")["IS_PRERELEASE"] == "false"
