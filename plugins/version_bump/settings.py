"""version-bump settings: the model, also the schema for --help, the docs and lint."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, model_validator

from tagship.settings import Kind, PluginSettings, StrList, setting
from tagship.validators import load_json


class FileRule(BaseModel):
    """One file to write the version into.  No ``search``: the current version on lines that mention
    "version" (or the whole file); else ``search`` is replaced by ``replace`` (placeholders allowed)."""

    model_config = {"extra": "forbid"}

    path: str
    search: str | None = None
    replace: str = "{new_version}"


def _rule(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


def _files(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text[0] in "[{":
            value = load_json(text)
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    return [value] if isinstance(value, dict) else value


FileList = Annotated[list[Annotated[FileRule, BeforeValidator(_rule)]], BeforeValidator(_files),
                     Kind("list of paths or maps")]


class Settings(PluginSettings):
    tag_prefix: str = setting("v", help="Removed once from the front of the tag (`${DRONE_TAG##v}`) and of "
                              "release tags; e.g. `cmd/api/v` for a monorepo.")
    scheme: Literal["semver", "pep440"] = setting(
        "semver", help="The version rules: SemVer 2.0.0 or PEP 440 (parsing, precedence, bumps).")
    version: str | None = setting(
        None, help="The version to release, as is (no prefix stripped). Default: the tag, else the highest "
        "release tag bumped by `bump`.")
    bump: Literal["auto", "major", "minor", "patch", "prerelease"] = setting(
        "auto", help="Not a tag build: how to bump the highest release tag in HEAD's history. `auto` reads the "
        "conventional commits since it (feat→minor, fix/perf→patch, `!`/BREAKING CHANGE→major; else patch).")
    major_on_zero: bool = setting(False, help="On 0.x a breaking change bumps MAJOR (to 1.0.0); default MINOR.")
    prerelease_token: str = setting("rc", help="Token for pre-releases: SemVer `rc` → 1.3.0-rc.1; PEP 440 "
                                    "a|b|rc|dev → 1.3.0rc1.")
    as_prerelease: bool = setting(False, help="Not a tag build: make the bumped version a pre-release of it "
                                  "(1.3.0 → 1.3.0-rc.N, counting past existing tags).")
    initial_version: str = setting("0.1.0", help="Not a tag build and no release tag yet: the first version.")
    require_increase: Literal["line", "global", "off"] = setting(
        "line", help="Monotonic guard. `line`: not already released on another commit and greater than every "
        "release with the same MAJOR.MINOR; `global`: greater than every release; `off`.")
    fetch_tags: bool = setting(True, help="Fetch all tags from the workspace's remote first (a Drone tag build "
                               "clones only its own tag).")
    latest: Literal["auto", "always", "never"] = setting(
        "auto", help="`latest` tag: `auto` only for the highest stable release; `always` for every stable "
        "release; `never`.")
    floating_tags: Literal["smart", "always", "never"] = setting(
        "smart", help="`X.Y`/`X` tags: `smart` only when this is the highest stable release of that range; "
        "`always` like drone-docker auto_tag; `never`.")
    tags_suffix: str = setting("", help="Appended to each docker tag as `-suffix` (`latest` becomes the suffix).")
    extra_tags: StrList = setting([], help="More docker tags, appended as they are.")
    tags_file: str = setting(".tags", help="Where the comma-separated docker tags go (read by plugins/docker "
                             "and registry-push).")
    version_file: str = setting(".version", help="Where the version goes (plain text).")
    files: FileList = setting(
        [], help="Write the version into files: paths (the current version is replaced on lines that mention "
        "'version', or the whole file if it holds only the version) or maps {path, search, replace} with "
        "{current_version}/{new_version}. All or nothing.")
    current_version: str | None = setting(
        None, help="The version the `files` hold now. Default: the highest release below the new version.")

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        from tagship.versions import VersionError, parse, valid_docker_tag, with_prerelease

        for name in ("version", "current_version"):
            value = getattr(self, name)
            if value is not None:
                try:
                    parse(value, self.scheme)
                except VersionError as exc:
                    raise ValueError(f"PLUGIN_{name.upper()}: {exc}") from None
        try:
            with_prerelease("1.0.0", self.scheme, self.prerelease_token)
        except VersionError as exc:
            raise ValueError(f"PLUGIN_PRERELEASE_TOKEN: {exc}") from None
        bad = [t for t in self.extra_tags if not valid_docker_tag(t)]
        if bad:
            raise ValueError(f"PLUGIN_EXTRA_TAGS: not a valid docker tag: {', '.join(bad)}")
        if self.tags_suffix and not valid_docker_tag(f"x-{self.tags_suffix}"):
            raise ValueError(f"PLUGIN_TAGS_SUFFIX: {self.tags_suffix!r} cannot be part of a docker tag")
        if self.initial_version:
            try:
                parse(self.initial_version, self.scheme)
            except VersionError as exc:
                raise ValueError(f"PLUGIN_INITIAL_VERSION: {exc}") from None
        for name in ("tags_file", "version_file"):
            if not getattr(self, name).strip():
                raise ValueError(f"PLUGIN_{name.upper()}: must not be empty")
        return self
