"""The build context: Drone's ``DRONE_*`` variables, falling back to Woodpecker's ``CI_*``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel

# field -> env names, first set wins (research/version-and-drone.md B3, B5)
_SOURCES: dict[str, tuple[str, ...]] = {
    "tag": ("DRONE_TAG", "CI_COMMIT_TAG"),
    "ref": ("DRONE_COMMIT_REF", "CI_COMMIT_REF"),
    "event": ("DRONE_BUILD_EVENT", "CI_PIPELINE_EVENT", "CI_BUILD_EVENT"),
    "commit_sha": ("DRONE_COMMIT_SHA", "DRONE_COMMIT", "CI_COMMIT_SHA"),
    "commit_message": ("DRONE_COMMIT_MESSAGE", "CI_COMMIT_MESSAGE"),
    "commit_author": ("DRONE_COMMIT_AUTHOR", "CI_COMMIT_AUTHOR"),
    "branch": ("DRONE_BRANCH", "DRONE_COMMIT_BRANCH", "CI_COMMIT_BRANCH"),
    "repo": ("DRONE_REPO", "CI_REPO"),
    "repo_link": ("DRONE_REPO_LINK", "CI_REPO_URL"),
    "remote_url": ("DRONE_REMOTE_URL", "DRONE_GIT_HTTP_URL", "CI_REPO_CLONE_URL"),
    "build_number": ("DRONE_BUILD_NUMBER", "CI_PIPELINE_NUMBER", "CI_BUILD_NUMBER"),
    "build_created": ("DRONE_BUILD_CREATED", "CI_PIPELINE_CREATED"),
    "build_link": ("DRONE_BUILD_LINK", "CI_PIPELINE_URL"),
    "workspace": ("DRONE_WORKSPACE", "CI_WORKSPACE"),
    "card_path": ("DRONE_CARD_PATH",),
    "step_name": ("DRONE_STEP_NAME", "CI_STEP_NAME"),
    "semver_error": ("DRONE_SEMVER_ERROR",),
}
_SEMVER = ("DRONE_SEMVER", "DRONE_SEMVER_SHORT", "DRONE_SEMVER_MAJOR", "DRONE_SEMVER_MINOR",
           "DRONE_SEMVER_PATCH", "DRONE_SEMVER_PRERELEASE", "DRONE_SEMVER_BUILD")


class DroneContext(BaseModel):
    system: str = "local"  # drone | woodpecker | local
    tag: str | None = None
    ref: str | None = None
    event: str | None = None
    commit_sha: str | None = None
    commit_message: str | None = None
    commit_author: str | None = None
    branch: str | None = None
    repo: str | None = None
    repo_link: str | None = None
    remote_url: str | None = None
    build_number: str | None = None
    build_created: int | None = None
    build_link: str | None = None
    workspace: Path = Path(".")
    card_path: Path | None = None
    step_name: str | None = None
    semver: dict[str, str] = {}
    semver_error: str | None = None

    @property
    def is_tag(self) -> bool:
        return bool(self.tag) or (self.ref or "").startswith("refs/tags/")

    @property
    def tag_name(self) -> str | None:
        if self.tag:
            return self.tag
        if (self.ref or "").startswith("refs/tags/"):
            return self.ref[len("refs/tags/"):]
        return None

    @property
    def short_sha(self) -> str | None:
        return self.commit_sha[:8] if self.commit_sha else None

    def result_dir(self) -> Path:
        return self.workspace / ".tagship"


def load_context(environ: Mapping[str, str] | None = None) -> DroneContext:
    env = os.environ if environ is None else environ
    data: dict[str, object] = {}
    for field, names in _SOURCES.items():
        for name in names:
            if env.get(name):
                data[field] = env[name]
                break
    if "workspace" not in data:
        data["workspace"] = os.getcwd()
    if data.get("build_created") and not re.fullmatch(r"[0-9]{1,18}", str(data["build_created"])):
        data.pop("build_created")  # not Unix seconds in ASCII digits (isdigit() takes '²' and '٣'): ignored
    data["semver"] = {k: env[k] for k in _SEMVER if env.get(k)}
    if env.get("DRONE") == "true" or env.get("CI") == "drone":
        data["system"] = "drone"
    elif env.get("CI") == "woodpecker":
        data["system"] = "woodpecker"
    return DroneContext.model_validate(data)
