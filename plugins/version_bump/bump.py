"""version-bump's run: git facts → the version → the guard → docker tags → files and hand-off outputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tagship import log
from tagship.paths import confine, state_dir
from tagship.errors import PluginError
from tagship.runtime import Run
from tagship.versions import Version, VersionError, describe, docker_tags, parse, strip_prefix

from . import files as file_edits
from . import gitio, plan
from .settings import Settings


def _short(names: list[str], limit: int = 8) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _releases(s: Settings, run: Run, ws: Path) -> tuple[list[plan.Release], str | None, str | None]:
    """(release tags, HEAD commit, the remote the tags came from) — after fetching the remote's tags."""
    if not gitio.is_repo(ws):
        log.warn(f"{ws} is not a git repository: there are no release tags to check the version against")
        return [], None, None
    head = gitio.head(ws)
    remote = None
    if s.fetch_tags:
        names = gitio.remotes(ws)
        if not names:
            log.note("the repository has no remote: checking against the local tags only")
        else:
            remote = "origin" if "origin" in names else names[0]
            for password in gitio.remote_passwords(ws, remote):
                run.secret(password)
            try:
                gitio.fetch_tags(ws, remote)
            except PluginError as exc:
                raise PluginError(f"cannot fetch the tags the guard needs: {exc.message}",
                                  hint=f"the step needs read access to {remote} (Drone passes DRONE_NETRC_*); "
                                  "or set fetch_tags: false to check against the cloned tags only") from None
            log.info(f"fetched the tags of {remote}")
    releases, ignored = plan.parse_releases(gitio.list_tags(ws), s.tag_prefix, s.scheme)
    if ignored:
        log.note(f"ignored {len(ignored)} tag(s) that are not {s.scheme} versions after the prefix "
                 f"{s.tag_prefix!r}: {_short(ignored)}")
    log.info(f"{len(releases)} release tag(s)" + (f", highest {max(r.version for r in releases).text}"
                                                 if releases else ""))
    return releases, head, remote


def _bumped(s: Settings, ws: Path, releases: list[plan.Release], head: str | None, remote: str | None
            ) -> tuple[str, str]:
    """(version, where it came from) when this is not a tag build and no version is set."""
    if head is None:
        raise PluginError("no version: this is not a tag build, PLUGIN_VERSION is not set and the workspace "
                          "has no git history to bump from", hint="set PLUGIN_VERSION or run on a tag")
    if remote is not None and gitio.is_shallow(ws):
        log.info("shallow clone: fetching the history the bump needs")
        gitio.unshallow(ws, remote)
    base, note = plan.pick_base(releases, gitio.merged_tags(ws))
    part, why = s.bump, f"bump: {s.bump}"
    if s.bump == "auto":
        if base is not None and base.commit == head and not s.as_prerelease:
            return base.version.text, f"{base.tag} (HEAD is this release; nothing to bump)"
        messages = gitio.messages_since(ws, base.commit if base else None)
        part, why = plan.auto_part(messages, base.version if base else None, major_on_zero=s.major_on_zero)
        why = f"bump: auto → {part}: {why}"
    try:
        version = plan.next_version(base, releases, part, s.scheme, token=s.prerelease_token,
                                    as_prerelease=s.as_prerelease, initial=s.initial_version)
    except VersionError as exc:
        raise PluginError(f"cannot bump {base.tag if base else s.initial_version}: {exc}") from None
    if base is None:
        return version, f"initial_version (no release tag yet; {why})"
    return version, f"{base.tag}{note} + {why}"


def _choose(s: Settings, run: Run, ws: Path, releases, head, remote) -> tuple[Version, str]:
    if s.version:
        text, source = s.version, "PLUGIN_VERSION"
    elif run.ctx.tag_name:
        text, source = strip_prefix(run.ctx.tag_name, s.tag_prefix), f"tag {run.ctx.tag_name}"
    else:
        text, source = _bumped(s, ws, releases, head, remote)
    try:
        return parse(text, s.scheme), source
    except VersionError as exc:
        raise PluginError(f"{source}: {exc}", hint="tag a version that follows the scheme (PLUGIN_SCHEME) "
                          "or set PLUGIN_TAG_PREFIX") from None


def _preflight(s: Settings, ws: Path) -> None:
    """Fail before any decision or write when this step cannot write where it must: Drone clones the
    workspace as root, so a plugin running as another user can neither fetch into .git nor write .version."""
    hint = ("run the step as the workspace's owner: Drone clones as root, so run the plugin as root "
            "(or set fetch_tags: false and write nothing with dry_run: true)")
    if not os.access(ws, os.R_OK | os.X_OK):
        raise PluginError(f"the workspace {ws} cannot be read by this step (uid {os.getuid()})", hint=hint)
    targets = [] if s.dry_run else [ws]
    if s.fetch_tags and os.access(ws / ".git", os.F_OK):
        targets.append(ws / ".git")
    for path in targets:
        if path.exists() and not os.access(path, os.W_OK):
            raise PluginError(
                f"{path} is not writable by this step (uid {os.getuid()}; owned by uid {path.stat().st_uid})",
                hint=hint)


def run_bump(s: Settings, run: Run) -> dict[str, Any]:
    ws = run.workspace
    run.secret(os.environ.get("DRONE_NETRC_PASSWORD"))
    if s.dry_run:
        run.write_files = False
    _preflight(s, ws)
    for env, value in (("PLUGIN_VERSION_FILE", s.version_file), ("PLUGIN_TAGS_FILE", s.tags_file)):
        confine(ws, value, env, allow=s.allow_outside_workspace)
    if not s.dry_run:
        state_dir(ws, create=False)  # .tagship/version.env: never through a symlink out of the workspace
    releases, head, remote = _releases(s, run, ws)
    version, source = _choose(s, run, ws, releases, head, remote)
    log.info(f"version {version.text} (from {source})")
    run.summary += [("version", version.public), ("from", source)]
    run.result.update(version=version.public, version_full=version.text, source=source)

    warning = plan.semver_disagreement(run.ctx.semver, version)
    if warning:
        log.warn(warning)

    own_tag = run.ctx.tag_name if run.ctx.tag_name and not s.version else None
    violation, note = plan.check_increase(version, releases, head, s.require_increase, own_tag=own_tag)
    if note:
        log.note(note)
    if violation:
        raise PluginError(violation, hint="release a higher version (a new tag), or set require_increase: "
                          "off (or line instead of global) if this is intended")
    log.ok(f"require_increase: {s.require_increase} — passed" if s.require_increase != "off"
           else "require_increase: off — not checked")

    try:
        tags = docker_tags(version.text, [r.version.text for r in releases], scheme=s.scheme, latest=s.latest,
                           floating=s.floating_tags, suffix=s.tags_suffix, extra=s.extra_tags)
    except VersionError as exc:
        raise PluginError(f"docker tags for {version.text}: {exc}") from None
    log.info(f"docker tags: {', '.join(tags)}")
    run.summary.append(("docker tags", ", ".join(tags)))

    previous = plan.previous_release(version, releases)
    current = s.current_version or (previous.version.text if previous else None)
    edits = file_edits.plan_edits(ws, s.files, current, version.public, s.allow_outside_workspace) \
        if s.files else []
    for edit in edits:
        log.info(f"{edit.shown}: {edit.note}")

    values = describe(version.text, s.scheme)
    values.update(DOCKER_TAGS=",".join(tags), PREVIOUS_VERSION=previous.version.text if previous else "")
    outputs = {"version_file": s.version_file, "tags_file": s.tags_file, "env_file": ".tagship/version.env"}
    if s.dry_run:
        log.note("dry run: no file written (" + ", ".join([*outputs.values(), *(e.shown for e in edits)]) + ")")
    else:
        run.pending = "the version files (.version, .tags, .tagship/version.env)"
        written = [(s.version_file, version.public + "\n"),
                   (s.tags_file, ",".join(tags)),  # no newline: plugins/docker reads it as is
                   (outputs["env_file"], plan.render_env(values))]
        file_edits.apply_edits([*edits, *(file_edits.Edit(ws / name, name, text, 1, "") for name, text in written)])
        run.pending = ""
        drone_output = os.environ.get("DRONE_OUTPUT")
        if drone_output:
            try:
                with open(drone_output, "a") as fh:
                    fh.writelines(f"{k}={v}\n" for k, v in values.items())
            except OSError as exc:
                log.warn(f"could not append to DRONE_OUTPUT ({drone_output}): {exc}")
    if edits:
        run.summary.append(("files", ", ".join(f"{e.shown} ({'changed' if e.new_text else 'as is'})"
                                               for e in edits)))
    return {
        "version": version.public,
        "version_full": version.text,
        "source": source,
        "scheme": s.scheme,
        "previous": previous.version.text if previous else None,
        "previous_tag": previous.tag if previous else None,
        "tags": tags,
        "is_prerelease": version.is_prerelease,
        "require_increase": s.require_increase,
        "releases": len(releases),
        "head": head,
        "files": [{"path": e.shown, "changed": e.new_text is not None, "note": e.note} for e in edits],
        "outputs": outputs,
    }
