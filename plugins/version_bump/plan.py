"""version-bump's decisions, pure (no I/O): the bump from commit messages, the next version, the guard.

Table-tested in tests/unit/test_version_bump_plan.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from tagship.versions import Version, bump, parse, strip_prefix, try_parse, with_prerelease

_HEADER = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?:[ \t]+\S")
_BREAKING = re.compile(r"^BREAKING[ -]CHANGE:[ \t]*\S", re.MULTILINE)
_LEVELS = {None: 0, "patch": 1, "minor": 2, "major": 3}


@dataclass(frozen=True)
class Release:
    """A release tag: its name, the version it stands for and the commit it points to."""

    tag: str
    version: Version
    commit: str
    created: int = 0  # unix time: the tagger date of an annotated tag, the commit date of a lightweight one


def commit_level(message: str) -> str | None:
    """The bump a Conventional Commits message asks for: major, minor, patch or None."""
    if _BREAKING.search(message):
        return "major"
    m = _HEADER.match(message.lstrip().split("\n", 1)[0])
    if not m:
        return None
    if m.group("bang"):
        return "major"
    kind = m.group("type").lower()
    if kind == "feat":
        return "minor"
    if kind in ("fix", "perf"):
        return "patch"
    return None


def auto_part(messages: Sequence[str], current: Version | None, *, major_on_zero: bool = False
              ) -> tuple[str, str]:
    """(bump part, why) from the commit messages since the last release.

    The highest level any commit asks for; a breaking change on 0.x bumps MINOR unless ``major_on_zero``;
    commits that ask for nothing (or no commits) give a patch, so every build gets a new version.
    """
    best: str | None = None
    counts = {"major": 0, "minor": 0, "patch": 0}
    for msg in messages:
        level = commit_level(msg)
        if level:
            counts[level] += 1
            if _LEVELS[level] > _LEVELS[best]:
                best = level
    n = len(messages)
    seen = ", ".join(f"{c} {k}" for k, c in counts.items() if c)
    if best is None:
        return "patch", f"{n} commit(s), none feat/fix/perf/breaking: patch"
    if best == "major" and current is not None and current.major == 0 and not major_on_zero:
        return "minor", f"{n} commit(s) ({seen}); breaking on 0.x bumps minor (major_on_zero: false)"
    return best, f"{n} commit(s) ({seen})"


def parse_releases(tags: Iterable[tuple], prefix: str, scheme: str) -> tuple[list[Release], list[str]]:
    """(releases, names that are not versions) from ``(tag name, commit[, created])`` tuples."""
    out: list[Release] = []
    ignored: list[str] = []
    for name, commit, *created in tags:
        version = try_parse(strip_prefix(name, prefix), scheme)
        if version is None:
            ignored.append(name)
        else:
            out.append(Release(name, version, commit, *created))
    return out, ignored


def pick_base(releases: Sequence[Release], merged: set[str]) -> tuple[Release | None, str]:
    """The release to bump from: the highest one whose tag is in HEAD's history (``git describe`` style, so
    a hotfix branch bumps its own line); when none is, the highest of all.  (release, why)."""
    own = [r for r in releases if r.tag in merged]
    if own:
        return max(own, key=lambda r: r.version), ""
    if releases:
        return max(releases, key=lambda r: r.version), " (no release tag in HEAD's history: the highest of all)"
    return None, ""


def next_version(base: Release | None, releases: Sequence[Release], part: str, scheme: str, *,
                 token: str = "rc", as_prerelease: bool = False, initial: str = "0.1.0") -> str:
    """The next version after ``base`` (``initial`` when there is no release); ``as_prerelease`` makes it
    a pre-release numbered past the pre-releases already tagged."""
    version = bump(base.version.text, part, scheme, token=token) if base else initial
    if as_prerelease and not parse(version, scheme).is_prerelease:
        taken = {r.version for r in releases}
        n = 1
        while parse(with_prerelease(version, scheme, token, n), scheme) in taken:
            n += 1
        version = with_prerelease(version, scheme, token, n)
    return version


def previous_release(version: Version, releases: Sequence[Release]) -> Release | None:
    """The highest release below ``version`` (the version the repository's files hold before this one)."""
    lower = [r for r in releases if r.version < version]
    return max(lower, key=lambda r: r.version) if lower else None


def check_increase(version: Version, releases: Sequence[Release], head: str | None, mode: str, *,
                   own_tag: str | None = None) -> tuple[str | None, str | None]:
    """(why ``version`` breaks the monotonic guard or None, a note for the log or None).

    ``line``: greater than every other release of the same MAJOR.MINOR; ``global``: greater than every
    other release; ``off``: not checked.  The same version released on another commit is always a
    violation.  A rebuild — this version's tag already on this commit — is not judged against releases
    tagged after it (a re-run of v1.1.1 after v1.1.2 exists is fine; a new v1.1.1 after v1.1.2 is not).
    """
    if mode == "off":
        return None, None
    same = [r for r in releases if r.version == version]
    for r in same:
        if head is None or r.commit != head:
            return (f"{version.text} is already released as {r.tag} on commit {r.commit[:12]}; "
                    f"this build is {head[:12] if head else 'not on a commit'}"), None
    own = next((r for r in same if r.tag == own_tag), same[0] if same else None)
    others = [r for r in releases if r.version != version]
    if mode == "line":
        others = [r for r in others if (r.version.major, r.version.minor) == (version.major, version.minor)]
        scope = f"the highest release of {version.major}.{version.minor}.x"
    else:
        scope = "the highest release"
    higher = [r for r in others if r.version > version]
    later = [r for r in higher if own is not None and r.created > own.created]
    higher = [r for r in higher if r not in later]
    if higher:
        top = max(higher, key=lambda r: r.version)
        return (f"{version.text} is lower than {top.version.text} ({top.tag}, {scope}); "
                f"require_increase: {mode}"), None
    if own is not None:
        after = f"; {', '.join(r.tag for r in later)} came later" if later else ""
        return None, f"a rebuild: {own.tag} already points at this commit{after}"
    return None, None


def semver_disagreement(drone_semver: dict[str, str], version: Version) -> str | None:
    """A warning when Drone's ``DRONE_SEMVER`` names another version than the one chosen."""
    given = drone_semver.get("DRONE_SEMVER")
    if not given:
        return None
    try:
        same = parse(given, version.scheme) == version
    except ValueError:
        same = False
    if same:
        return None
    return f"DRONE_SEMVER is {given} but the version is {version.text}"


def render_env(values: dict[str, str]) -> str:
    """A dotenv file a POSIX shell can source: every value single-quoted."""
    def quoted(value: str) -> str:
        return "'" + value.replace("'", "'\\''") + "'"

    return "".join(f"{key}={quoted(value)}\n" for key, value in values.items())
