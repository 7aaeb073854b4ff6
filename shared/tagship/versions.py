"""The version and docker-tag rules every tagship plugin shares (pure: no I/O).

Two schemes: ``semver`` (SemVer 2.0.0, strict, through ``semver`` 3.x) and ``pep440`` (``packaging.version``).
:func:`parse` returns a :class:`Version` ordered by the scheme's precedence (SemVer: build metadata ignored,
pre-release identifiers compared field by field; PEP 440: dev < a < b < rc < final < post).

Docker tags (research/registry-push.md §(b)): build metadata is dropped (a docker tag cannot hold ``+``), a
pre-release gives only its full version, a stable ``X.Y.Z`` gives ``X.Y.Z`` plus the floating ``X.Y``, ``X``
(never a bare ``0``) and ``latest``.  With ``floating="smart"`` (the default) a floating tag is given only when
this version is the highest stable release of its range, so a hotfix of an old line never moves ``1``,
``1.2`` or ``latest`` backwards (drone-docker#287, metadata-action#80).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Any, Iterable, Sequence

SCHEMES = ("semver", "pep440")
_DOCKER_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_IDENT = re.compile(r"[0-9A-Za-z-]+")


class VersionError(ValueError):
    """A version or tag breaks a rule; the message names the rule."""


@total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A parsed version: ``text`` as given, ordered and compared by the scheme's precedence."""

    text: str
    scheme: str
    major: int
    minor: int
    patch: int
    prerelease: str | None  # SemVer "rc.1"; PEP 440 "rc1", "dev3", "a1.dev2"
    build: str | None  # SemVer build metadata / PEP 440 local version
    _key: Any = field(repr=False)

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease is not None

    @property
    def public(self) -> str:
        """The version without build metadata (what goes into docker tags and ``.version``)."""
        if self.scheme == "semver":
            core = f"{self.major}.{self.minor}.{self.patch}"
            return f"{core}-{self.prerelease}" if self.prerelease else core
        return self._key.public

    def __str__(self) -> str:
        return self.text

    def _check(self, other: object) -> "Version":
        if not isinstance(other, Version):
            return NotImplemented  # type: ignore[return-value]
        if other.scheme != self.scheme:
            raise TypeError(f"cannot compare a {self.scheme} version with a {other.scheme} version")
        return other

    def __eq__(self, other: object) -> bool:
        o = self._check(other)
        if o is NotImplemented:
            return NotImplemented
        return self._key == o._key

    def __lt__(self, other: object) -> bool:
        o = self._check(other)
        if o is NotImplemented:
            return NotImplemented
        return self._key < o._key

    def __hash__(self) -> int:
        return hash((self.scheme, self._key))


def _semver_problem(text: str) -> str:
    """Why ``text`` is not SemVer 2.0.0, in words (the semver library only says "not valid")."""
    if not text:
        return "it is empty"
    if text[0] in "vV":
        return "it starts with 'v' (set tag_prefix to strip it)"
    rest, _, build = text.partition("+")
    core, dash, pre = rest.partition("-")
    parts = core.split(".")
    if len(parts) != 3 or not all(parts):
        return "it needs MAJOR.MINOR.PATCH"
    for part in parts:
        if not part.isdigit():
            return f"MAJOR.MINOR.PATCH must be non-negative integers ({part!r})"
        if len(part) > 1 and part[0] == "0":
            return f"numbers must not have leading zeros ({part!r})"
    if dash:
        for ident in pre.split("."):
            if not ident:
                return "pre-release identifiers must not be empty"
            if not _IDENT.fullmatch(ident):
                return f"pre-release identifiers may hold only [0-9A-Za-z-] ({ident!r})"
            if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                return f"numeric pre-release identifiers must not have leading zeros ({ident!r})"
    if "+" in text:
        for ident in build.split("."):
            if not ident or not _IDENT.fullmatch(ident):
                return f"build metadata identifiers must be non-empty [0-9A-Za-z-] ({ident!r})"
    return "it does not match the SemVer 2.0.0 grammar"


def parse(text: str, scheme: str = "semver") -> Version:
    """Parse ``text`` under ``scheme``; raise :class:`VersionError` naming the rule it breaks."""
    if scheme not in SCHEMES:
        raise VersionError(f"unknown version scheme {scheme!r}: use semver or pep440")
    text = (text or "").strip()
    if scheme == "semver":
        import semver

        try:
            v = semver.Version.parse(text)
        except (ValueError, TypeError):
            raise VersionError(f"{text or repr(text)} is not SemVer 2.0.0: {_semver_problem(text)}") from None
        return Version(text, "semver", v.major, v.minor, v.patch, v.prerelease, v.build, v.replace(build=None))
    from packaging.version import InvalidVersion
    from packaging.version import Version as PV

    try:
        v = PV(text)
    except InvalidVersion:
        raise VersionError(
            f"{text or repr(text)} is not a PEP 440 version: it needs N(.N)* with optional "
            "aN/bN/rcN, .postN, .devN (e.g. 1.2.0, 1.2.0rc1, 1.2.0.post1)"
        ) from None
    rel = tuple(v.release) + (0, 0)
    pre = "".join(f"{p[0]}{p[1]}" for p in [v.pre] if p) or ""
    if v.dev is not None:
        pre = f"{pre}.dev{v.dev}" if pre else f"dev{v.dev}"
    return Version(text, "pep440", rel[0], rel[1], rel[2], pre or None, v.local, v)


def try_parse(text: str, scheme: str = "semver") -> Version | None:
    try:
        return parse(text, scheme)
    except VersionError:
        return None


def is_prerelease(text: str, scheme: str = "semver") -> bool:
    return parse(text, scheme).is_prerelease


def split_parsable(versions: Iterable[str], scheme: str = "semver") -> tuple[list[Version], list[str]]:
    """(the versions that parse, the strings that do not) — callers list the latter in the log."""
    good: list[Version] = []
    bad: list[str] = []
    for text in versions:
        v = try_parse(text, scheme)
        (good.append(v) if v is not None else bad.append(text))
    return good, bad


def highest(versions: Iterable[str], scheme: str = "semver", *, stable_only: bool = False) -> str | None:
    """The highest of ``versions`` by the scheme's precedence (as given); unparsable ones are ignored."""
    good, _ = split_parsable(versions, scheme)
    if stable_only:
        good = [v for v in good if not v.is_prerelease]
    return max(good).text if good else None


def strip_prefix(tag: str, prefix: str = "v") -> str:
    """``tag`` without ``refs/tags/`` and one leading ``prefix`` (``${DRONE_TAG##v}``)."""
    tag = tag.removeprefix("refs/tags/")
    return tag[len(prefix):] if prefix and tag.startswith(prefix) else tag


def valid_docker_tag(tag: str) -> bool:
    """Docker's tag grammar: ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``."""
    return bool(_DOCKER_TAG.fullmatch(tag or ""))


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise VersionError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def docker_tags(
    version: str,
    released: Iterable[str] = (),
    *,
    scheme: str = "semver",
    latest: str = "auto",
    floating: str = "smart",
    suffix: str = "",
    extra: Sequence[str] = (),
) -> list[str]:
    """The docker tags for ``version`` given the versions already ``released``.

    ``floating``: ``smart`` — ``X.Y``/``X``/``latest`` only if this is the highest stable release of that
    range (ties count: a rebuild keeps its tags); ``always`` — like drone-docker's auto_tag; ``never`` — only
    the full version.  ``latest``: ``auto`` (the highest stable release; with ``floating=always`` every stable
    release; none with ``floating=never``), ``always`` (every stable release), ``never``.  A pre-release
    never gets a floating tag or latest.
    ``suffix`` turns each tag into ``tag-suffix`` and ``latest`` into the suffix itself (drone-docker).
    ``extra`` tags are appended as they are.  Every tag is checked against docker's grammar.
    """
    _check_choice("latest", latest, ("auto", "always", "never"))
    _check_choice("floating", floating, ("smart", "always", "never"))
    v = parse(version, scheme)
    tags = [v.public]
    if not v.is_prerelease:
        stable = [r for r in split_parsable(released, scheme)[0] if not r.is_prerelease]
        smart = floating == "smart"

        def tops(pool: Iterable[Version]) -> bool:
            return all(v >= r for r in pool)

        if floating != "never":
            if not smart or tops(r for r in stable if (r.major, r.minor) == (v.major, v.minor)):
                tags.append(f"{v.major}.{v.minor}")
            if v.major != 0 and (not smart or tops(r for r in stable if r.major == v.major)):
                tags.append(str(v.major))
        if latest == "always" or (latest == "auto" and floating != "never" and (not smart or tops(stable))):
            tags.append("latest")
    if suffix:
        tags = [suffix if t == "latest" else f"{t}-{suffix}" for t in tags]
    out: list[str] = []
    for tag in [*tags, *extra]:
        if tag and tag not in out:
            out.append(tag)
    bad = [t for t in out if not valid_docker_tag(t)]
    if bad:
        raise VersionError(
            f"not a valid docker tag: {', '.join(bad)} (a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
        )
    return out


def auto_tags(
    ref: str | None,
    tag: str | None,
    *,
    default_branch: str | None,
    branch: str | None,
    suffix: str = "",
    released: Iterable[str] = (),
    floating: str = "smart",
    latest: str = "never",
) -> list[str]:
    """drone-docker's ``auto_tag`` rule, with smart floating tags.  ``[]`` means "not a release: skip".

    A tag (``tag`` or ``refs/tags/…``): one leading ``v`` stripped, strict SemVer (else :class:`VersionError`,
    as drone-docker fails "invalid semantic version"), then :func:`docker_tags` (a tag build gets no
    ``latest`` unless ``latest`` says so, like drone-docker).  A push to the default branch: ``latest`` (with a
    suffix: the suffix itself).  Anything else: ``[]``.
    """
    name = tag or (ref[len("refs/tags/"):] if ref and ref.startswith("refs/tags/") else None)
    if name:
        return docker_tags(strip_prefix(name, "v"), released, latest=latest, floating=floating, suffix=suffix)
    on_default = bool(default_branch) and (
        ref == f"refs/heads/{default_branch}" or (not ref and branch == default_branch)
    )
    if on_default:
        return [suffix or "latest"]
    return []


# --- bumps -------------------------------------------------------------------------------------------------

BUMPS = ("major", "minor", "patch", "prerelease")
_PEP440_TOKENS = {"a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "rc": "rc", "pre": "rc",
                  "preview": "rc", "dev": "dev"}


def bump(version: str, part: str, scheme: str = "semver", *, token: str = "rc") -> str:
    """The next version after ``version`` (npm/semantic-release rules).

    From a pre-release, ``patch``/``minor``/``major`` first finish the release it leads to (``1.3.0-rc.2``
    → ``minor`` → ``1.3.0``); ``prerelease`` counts up the ``token`` (``1.3.0-rc.1`` → ``1.3.0-rc.2``) or
    starts one on the next patch (``1.2.3`` → ``1.2.4-rc.1``; PEP 440 ``1.2.4rc1``).  Build metadata, PEP 440
    post/local parts are dropped.
    """
    _check_choice("bump", part, BUMPS)
    v = parse(version, scheme)
    x, y, z, pre = v.major, v.minor, v.patch, v.is_prerelease
    if part == "major":
        nxt = (x, 0, 0) if pre and y == 0 and z == 0 else (x + 1, 0, 0)
    elif part == "minor":
        nxt = (x, y, 0) if pre and z == 0 else (x, y + 1, 0)
    elif part == "patch":
        nxt = (x, y, z) if pre else (x, y, z + 1)
    else:
        return _bump_pre(v, token)
    return ".".join(map(str, nxt))


def with_prerelease(release: str, scheme: str, token: str, number: int = 1) -> str:
    """``1.3.0`` + ``rc`` → ``1.3.0-rc.1`` (SemVer) / ``1.3.0rc1`` (PEP 440)."""
    if scheme == "semver":
        if not all(_IDENT.fullmatch(i) for i in token.split(".")):
            raise VersionError(f"prerelease_token {token!r} is not a SemVer pre-release identifier")
        return f"{release}-{token}.{number}"
    norm = _PEP440_TOKENS.get(token.lower())
    if norm is None:
        raise VersionError(f"prerelease_token {token!r} is not a PEP 440 pre-release: use a, b, rc or dev")
    return f"{release}.dev{number}" if norm == "dev" else f"{release}{norm}{number}"


def _bump_pre(v: Version, token: str) -> str:
    core = f"{v.major}.{v.minor}.{v.patch}"
    if v.is_prerelease:
        if v.scheme == "semver":
            ids = v.prerelease.split(".")
            if ids[0] == token:
                if len(ids) > 1 and ids[-1].isdigit():
                    return f"{core}-{'.'.join(ids[:-1])}.{int(ids[-1]) + 1}"
                return f"{core}-{v.prerelease}.1"
        else:
            pv = v._key
            norm = _PEP440_TOKENS.get(token.lower())
            if norm == "dev" and pv.dev is not None:
                base = pv.base_version + ("".join(map(str, pv.pre)) if pv.pre else "")
                return f"{base}.dev{pv.dev + 1}"
            if pv.pre and pv.pre[0] == norm and pv.dev is None:
                return f"{pv.base_version}{norm}{pv.pre[1] + 1}"
        candidate = with_prerelease(core, v.scheme, token)
        if parse(candidate, v.scheme) > v:
            return candidate
    return with_prerelease(f"{v.major}.{v.minor}.{v.patch + 1}", v.scheme, token)


def describe(version: str, scheme: str = "semver") -> dict[str, str]:
    """The ``VERSION*`` values later steps read (``.tagship/version.env``)."""
    v = parse(version, scheme)
    return {
        "VERSION": v.public,
        "VERSION_MAJOR": str(v.major),
        "VERSION_MINOR": str(v.minor),
        "VERSION_PATCH": str(v.patch),
        "VERSION_PRERELEASE": v.prerelease or "",
        "VERSION_BUILD": v.build or "",
        "IS_PRERELEASE": "true" if v.is_prerelease else "false",
    }
