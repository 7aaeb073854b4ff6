"""``tagship lint [.drone.yml]``: check every step that uses a tagship image against its settings model.

Findings, one line each, ``<step>: <key>: <problem>``:
- unknown settings (with a did-you-mean), and plugin settings written at step level in a 1.x pipeline;
- required settings that are missing (a required setting also counts as given when one of its env aliases
  is set in ``environment:`` or, in 0.8, by ``secrets:``);
- wrong types: the value is encoded exactly as drone-runner-docker would and validated through the model;
- secrets given as plain values: a secret setting (or its env alias) not taken ``from_secret`` (the seed's tip:
  no secrets in source);
- for every step, tagship's or not (``lint_drone``): templates Drone's substitution refuses, values go-yaml
  cannot decode, shapes Drone's types cannot take and null ``environment:`` values, each with its line.
Exit 1 on findings, 0 with a summary when clean, 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from . import encoder, goyaml
from .lint_drone import drone_findings
from .drone_yaml import (STEP_KEYS_1X, PipelineError, SubstitutionError, encode, raw_steps, secret_name, setting_key,
                         substitute, variables)

PLUGINS = ("version-bump", "oss-push", "registry-push", "cs-deploy")
_IMAGE = re.compile(r"(?:^|/)tagship/(?P<plugin>[a-z][a-z0-9-]*)(?::[^/@]+)?(?:@sha256:[0-9a-f]+)?$")
# a tag event, so that ${DRONE_TAG##v} and friends have the values they have at release time
LINT_CONTEXT = {"DRONE_TAG": "v1.2.3", "DRONE_BUILD_EVENT": "tag", "DRONE_COMMIT_REF": "refs/tags/v1.2.3",
                "DRONE_SEMVER": "1.2.3", "DRONE_SEMVER_SHORT": "1.2.3", "DRONE_SEMVER_MAJOR": "1",
                "DRONE_SEMVER_MINOR": "2", "DRONE_SEMVER_PATCH": "3", "DRONE_COMMIT_SHA": "0" * 40,
                "DRONE_COMMIT": "0" * 40, "DRONE_BRANCH": "main", "DRONE_REPO": "acme/service",
                "DRONE_REPO_NAME": "service", "DRONE_REPO_OWNER": "acme", "DRONE_BUILD_NUMBER": "1"}
SECRET_PLACEHOLDER = "from-secret-placeholder"


def plugin_of(image: str) -> str | None:
    """``tagship/oss-push``, ``registry.example.com/ns/tagship/oss-push:1.0`` → ``oss-push``."""
    m = _IMAGE.search(image or "")
    return m.group("plugin") if m and m.group("plugin") in PLUGINS else None


def load_model(plugin: str) -> Any:
    return importlib.import_module(f"{plugin.replace('-', '_')}.settings").Settings


def _norm(name: str) -> str:
    return name.upper().replace("-", "_").replace(".", "_")


def check_step(step: str, raw: dict[str, Any], legacy: bool, model: Any) -> list[str]:
    """The findings for one tagship step (``raw`` is the step's YAML map, before substitution)."""
    from ..schema import describe
    from ..settings import load_settings

    rows = describe(model)
    raw = dict(raw)
    settings_text = raw.pop("settings_text", None) or {}
    env_text = raw.pop("env_text", None) or {}
    settings = {k: v for k, v in raw.items() if k not in STEP_KEYS_1X | {"secrets", "group"}} if legacy \
        else dict(raw.get("settings") or {})
    env_raw = raw.get("environment") or {}
    environment = dict(env_raw) if isinstance(env_raw, dict) else {}
    for item in (raw.get("secrets") or []) if legacy else []:
        target = item.get("target", item.get("source")) if isinstance(item, dict) else item
        environment[str(target).upper()] = {"from_secret": str(item.get("source") if isinstance(item, dict) else item)}
    findings: list[str] = []
    for key in list(environment):
        kind, text = encoder.env_value(environment[key], env_text.get(key, environment[key]))
        if kind == "value":  # null and unreadable values are lint_drone's findings (with their line)
            environment[key] = text
        if kind in ("null", "error"):
            del environment[key]

    by_key = {_norm(r.name): r for r in rows}
    for r in rows:  # old PLUGIN_* names (e.g. the seed's target) are keys too
        for alias in r.aliases:
            if _norm(alias).startswith("PLUGIN_"):
                by_key.setdefault(_norm(alias)[len("PLUGIN_"):], r)
    if not legacy:
        for key in raw:
            if key in STEP_KEYS_1X:
                continue
            if _norm(str(key)) in by_key:
                findings.append(f"{step}: {key}: a plugin setting at step level is ignored in a 1.x pipeline; "
                                f"move it under settings:")
            else:
                close = difflib.get_close_matches(str(key), sorted(STEP_KEYS_1X), n=1, cutoff=0.6)
                findings.append(f"{step}: {key}: not a step key of a 1.x pipeline"
                                + (f"; did you mean {close[0]}?" if close else ""))
    known = sorted(r.name for r in rows)
    for key in settings:
        if _norm(str(key)) not in by_key:
            close = difflib.get_close_matches(str(key).lower(), known, n=1, cutoff=0.6)
            findings.append(f"{step}: {key}: unknown setting" + (f"; did you mean {close[0]}?" if close else ""))

    given_env = {_norm(str(k)) for k in environment}
    given = {by_key[_norm(str(k))].name for k in settings if _norm(str(k)) in by_key}
    for r in rows:
        if r.required and r.name not in given and not any(_norm(a) in given_env for a in r.aliases):
            via = f" (or {', '.join(r.aliases)} in environment:)" if r.aliases else ""
            findings.append(f"{step}: {r.name}: required setting is missing{via}")

    # secrets given as plain values
    for key, value in settings.items():
        r = by_key.get(_norm(str(key)))
        if r and r.secret and value is not None and secret_name(value, settings_text.get(key)) is None:
            findings.append(f"{step}: {key}: {_plain(value, legacy)}")
    secret_envs = {_norm(a): r for r in rows if r.secret for a in [r.env, *r.aliases]}
    for key, value in environment.items():
        if _norm(str(key)) in secret_envs and value is not None and secret_name(value) is None:
            findings.append(f"{step}: {key}: {_plain(value, legacy)}")

    # from_secret below the top level is not resolved by Drone 1.x: the plugin gets {"from_secret": …} as JSON
    for key, value in settings.items():
        if secret_name(value) is None and _nested_secret(value):
            findings.append(f"{step}: {key}: from_secret inside a map or list is not resolved by Drone (only a "
                            f"whole setting can come from a secret); put it in the step's environment: instead")

    # types: encode as Drone would, validate through the model
    env: dict[str, str] = {}
    texts = {setting_key(str(k)): settings_text.get(k) for k in settings}
    for key, value in list(environment.items()) + [(setting_key(str(k)), v) for k, v in settings.items()]:
        row = by_key.get(_norm(str(key))[len("PLUGIN_"):]) if _norm(str(key)).startswith("PLUGIN_") else None
        if secret_name(value, texts.get(key)) is not None or (row is not None and row.secret) \
                or _norm(str(key)) in secret_envs:
            env[str(key)] = SECRET_PLACEHOLDER  # its value is not lint's business (plain ones are flagged)
            continue
        if goyaml.decode_error(value) or isinstance(texts.get(key), goyaml.PointerNull):
            continue  # what go-yaml cannot decode is lint_drone's finding, with its line
        text = value if isinstance(value, str) and not str(key).startswith("PLUGIN_") else encode(value)
        if text is not None:
            try:
                env[str(key)] = substitute(text, LINT_CONTEXT) if "$" in text else text
            except SubstitutionError:
                env[str(key)] = text  # refused templates are reported once, with their line

    for r in rows:  # missing ones are reported above; give them something so the rest is checked
        if r.required and r.name not in given and not any(_norm(a) in given_env for a in r.aliases):
            env.setdefault(r.env, SECRET_PLACEHOLDER)
    from ..errors import SettingsError

    try:
        load_settings(model, env)
    except SettingsError as exc:
        for line in exc.problems:
            name, sep, problem = line.partition(": ")
            key = _key_of(name, rows, settings) if sep else "settings"
            text = problem if sep else line
            if SECRET_PLACEHOLDER in text:
                continue  # a check that needs the real secret's value
            findings.append(f"{step}: {key}: {text}")
    except Exception as exc:  # a model validator that raised something else: still one line
        findings.append(f"{step}: settings: {type(exc).__name__}: {exc}")
    return findings


def _nested_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return secret_name(value) is not None or any(_nested_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_nested_secret(v) for v in value)
    return False


def _key_of(env_name: str, rows: list[Any], settings: dict[str, Any]) -> str:
    base = env_name.split("[")[0].split(".")[0]
    for r in rows:
        if _norm(base) in {_norm(r.env), *(_norm(a) for a in r.aliases)}:
            for key in settings:
                if _norm("PLUGIN_" + str(key)) in {_norm(r.env), *(_norm(a) for a in r.aliases)}:
                    return str(key)
            return r.name
    return env_name


def _plain(value: Any, legacy: bool) -> str:
    fix = "list it in secrets: (0.8)" if legacy else "use {from_secret: <name>}"
    text = value if isinstance(value, str) else ""
    names = variables(text)
    if names and text.strip().startswith("$"):
        return (f"secret taken from ${{{sorted(names)[0]}}}, which Drone substitutes into the YAML "
                f"(it is not masked as a secret); {fix}")
    return f"secret given as a plain value in the pipeline file; {fix}"


def lint_text(text: str) -> tuple[list[str], list[str], int]:
    """(findings, notes, number of tagship steps checked)."""
    findings: list[str] = drone_findings(text)
    notes: list[str] = []
    checked = 0
    try:
        all_steps = raw_steps(text)
    except PipelineError:
        if findings:  # what Drone refuses is reported above, with its line
            return findings, notes, checked
        raise
    for step, raw, legacy in all_steps:
        plugin = plugin_of(str(raw.get("image", "")))
        if plugin is None:
            continue
        try:
            model = load_model(plugin)
        except (ImportError, AttributeError) as exc:
            notes.append(f"{step}: cannot check tagship/{plugin}: its settings model is not importable ({exc})")
            continue
        checked += 1
        findings += check_step(step, raw, legacy, model)
    return findings, notes, checked


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tagship lint", description="Check a .drone.yml's tagship steps against "
                                "the plugins' settings models. Exit 1 on findings.")
    p.add_argument("files", nargs="*", default=[".drone.yml"], help="pipeline files (default .drone.yml)")
    args = p.parse_args(argv)
    total, steps = 0, 0
    for name in args.files:
        path = Path(name)
        try:
            findings, notes, checked = lint_text(path.read_text())
        except OSError as exc:
            print(f"tagship lint: {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except (PipelineError, ValueError) as exc:
            print(f"tagship lint: {path}: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        except Exception as exc:  # yaml errors and the like
            print(f"tagship lint: {path}: not a valid pipeline: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        prefix = f"{path}: " if len(args.files) > 1 else ""
        for line in findings:
            print(prefix + line)
        for line in notes:
            print(f"note: {prefix}{line}", file=sys.stderr)
        total += len(findings)
        steps += checked
    if total:
        print(f"tagship lint: {total} finding{'s' if total != 1 else ''} in {steps} tagship "
              f"step{'s' if steps != 1 else ''}", file=sys.stderr)
        return 1
    print(f"tagship lint: ok — {steps} tagship step{'s' if steps != 1 else ''} checked, no findings")
    return 0
