"""Reading a ``.drone.yml`` the way Drone does: substitution, the 1.x and 0.8 shapes, the settings encoder.

Used by ``tagship lint`` and ``tagship exec``. Substitution is drone/envsubst v1.0.3 (``envsubst``), the YAML is
typed as go-yaml v2 types it (``goyaml``), settings become ``PLUGIN_<KEY upper-cased as Go does>`` through
drone-runner-docker's encoder (``encoder``), ``{from_secret: name}`` is a secret (runner-go's ``Parameter`` and
``Variable``), ``environment:`` values keep their YAML text, a null setting is not set. Keys of Go structs and
string-keyed maps are what go-yaml decodes into a Go string (``yes:`` is ``yes``). Drone 0.8 (``pipeline:``
map) puts plugin settings at step level and names secrets in ``secrets:``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from . import encoder as _encoder
from . import goyaml, gostr
from .envsubst import SubstitutionError, substitute, variables  # noqa: F401 (re-exported)

# keys of a 0.8 step that are not plugin settings (drone/drone-yaml legacy converter)
STEP_KEYS_08 = {"image", "commands", "command", "entrypoint", "environment", "secrets", "when", "volumes",
                "privileged", "pull", "group", "detach", "network_mode", "networks", "shm_size", "mem_limit",
                "dns", "dns_search", "extra_hosts", "devices", "failure", "ignore_failure", "auth_config"}
# keys of a 1.x docker step (drone-runner-docker engine/resource)
STEP_KEYS_1X = {"name", "image", "commands", "command", "entrypoint", "environment", "settings", "when",
                "volumes", "privileged", "pull", "detach", "depends_on", "failure", "network_mode", "user",
                "shm_size", "devices", "dns", "dns_search", "extra_hosts", "resources", "working_dir"}


class PipelineError(ValueError):
    """The file is not a pipeline Drone would run (one line, with where)."""


@dataclass
class Secret:
    name: str


@dataclass
class Step:
    name: str
    image: str
    commands: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    when: dict[str, Any] = field(default_factory=dict)
    volumes: list[tuple[str, str]] = field(default_factory=list)  # (host path or "" for temp, container path)
    privileged: bool = False
    entrypoint: list[str] | None = None
    failure: str = ""
    legacy: bool = False  # a Drone 0.8 step
    settings_text: dict[str, Any] = field(default_factory=dict)  # the same values read as Go strings
    env_text: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what go-yaml cannot decode (the file does not load)

    @property
    def is_plugin(self) -> bool:
        return not self.commands


@dataclass
class Pipeline:
    name: str
    steps: list[Step]
    trigger: dict[str, Any] = field(default_factory=dict)
    legacy: bool = False


# ------------------------------------------------------------------------------------------- encoding
def encode(value: Any) -> str | None:
    """One setting's env value as drone-runner-docker writes it (``encoder.encode``); ``None``: not set."""
    return None if value is None else _encoder.encode(value)


def secret_name(value: Any, text: Any = None) -> str | None:
    """The secret a setting names (runner-go ``Parameter``: a map whose ``from_secret`` is a non-empty string)."""
    return _encoder.secret_name(value, text)


def setting_key(key: str) -> str:
    """``PLUGIN_`` + Go's ``strings.ToUpper`` (``ß`` stays ``ß``)."""
    return "PLUGIN_" + gostr.upper(key.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


def plugin_env(step: Step, secrets: Mapping[str, str]) -> tuple[dict[str, str], set[str]]:
    """The environment Drone gives the step (settings + environment + 0.8 secrets), and the secret values.
    Secret names are looked up case-insensitively; a missing secret leaves the variable unset, as in Drone."""
    lookup = {k.lower(): v for k, v in secrets.items()}
    env: dict[str, str] = {}
    used: set[str] = set()

    def secret(key: str, name: str) -> None:
        if name.lower() in lookup:
            env[key] = lookup[name.lower()]
            used.add(lookup[name.lower()])

    for key, value in step.environment.items():
        kind, text = _encoder.env_value(value, step.env_text.get(key, value))
        if kind == "secret":
            secret(str(key), str(text))
        elif kind == "value":
            env[str(key)] = str(text)
    for key, value in step.settings.items():
        kind, text = _encoder.setting(value, step.settings_text.get(key, value))
        if kind == "secret":
            secret(setting_key(str(key)), str(text))
        elif kind == "value":
            env[setting_key(str(key))] = str(text)
    return env, used


def env_problems(step: Step) -> list[str]:
    """``environment:`` entries Drone's runner cannot take: a null value (a nil pointer: the runner fails a
    pipeline that runs)."""
    return [f"{key}: a null value (Drone's runner fails the pipeline on it); quote it or remove it"
            for key, value in step.environment.items()
            if _encoder.env_value(value, step.env_text.get(key, value))[0] == "null"]


def decode_problems(settings: tuple[Any, Any], environment: tuple[Any, Any]) -> list[str]:
    """``settings:``/``environment:`` entries go-yaml cannot decode into Drone's types (each entry, a repeated
    key's earlier ones too): the file does not load. Each argument is (typed map, text map)."""
    out = [f"settings: {key}: {text}" for key, value, value_text in all_pairs(*settings)
           for kind, text in [_encoder.setting(value, value_text)] if kind == "error"]
    return out + [f"environment: {key}: {text}" for key, value, value_text in all_pairs(*environment)
                  for kind, text in [_encoder.env_value(value, value_text)] if kind == "error"]


def all_pairs(typed: Any, text: Any) -> list[tuple[str, Any, Any]]:
    """A string-keyed Go map or struct, entry by entry as go-yaml decodes it (a repeated key included): (key
    as a Go string, typed value, the value read as Go strings)."""
    if not isinstance(typed, dict):
        return []
    pairs = typed.pairs if isinstance(typed, goyaml.GoMap) else [(str(k), v) for k, v in typed.items()]
    texts = text.pairs if isinstance(text, goyaml.GoMap) and len(text.pairs) == len(pairs) else pairs
    return [(k, v, x) for (k, v), (_, x) in zip(pairs, texts)]


def _pairs(typed: Any, text: Any) -> list[tuple[str, Any, Any]]:
    """``all_pairs`` with a repeated key's last entry winning, as in the Go map."""
    out: dict[str, tuple[Any, Any]] = {}
    for key, value, value_text in all_pairs(typed, text):
        out[key] = (value, value_text)
    return [(k, v, x) for k, (v, x) in out.items()]


def _struct(typed: Any, text: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    pairs = _pairs(typed, text)
    return {k: v for k, v, _ in pairs}, {k: x for k, _, x in pairs}


# ------------------------------------------------------------------------------------------- parsing
def _volumes_08(raw: Any) -> list[tuple[str, str]]:
    out = []
    for item in raw or []:
        if isinstance(item, str) and ":" in item:
            host, _, rest = item.partition(":")
            out.append((host, rest.split(":")[0]))
    return out


def _step_08(name: str, typed: Any, text: Any) -> Step:
    raw, raw_text = _struct(typed, text)
    env, env_text = _struct(raw.get("environment"), raw_text.get("environment"))
    if isinstance(raw.get("environment"), list):
        for item in raw_text["environment"]:
            k, _, v = str(item).partition("=")
            env[k] = env_text[k] = v
    for item in raw_text.get("secrets") or []:
        if isinstance(item, dict):
            target = str(item.get("target", item.get("source", ""))).upper()
            env[target] = env_text[target] = {"from_secret": item.get("source")}
        else:
            env[str(item).upper()] = env_text[str(item).upper()] = {"from_secret": str(item)}
    settings = {k: v for k, v in raw.items() if k not in STEP_KEYS_08}
    commands = raw_text.get("commands") or []
    return Step(name=name, image=str(raw_text.get("image") or ""), commands=[str(c) for c in commands],
                settings=settings, settings_text={k: raw_text.get(k) for k in settings}, environment=env,
                env_text=env_text, when=raw.get("when") or {}, volumes=_volumes_08(raw_text.get("volumes")),
                privileged=raw.get("privileged") is True, entrypoint=raw_text.get("entrypoint"), legacy=True,
                problems=decode_problems(({k: v for k, v in raw.items() if k in settings}, {}), ({}, {})))


def _step_1x(typed: Any, text: Any, volumes: Mapping[str, str], index: int) -> Step:
    raw, raw_text = _struct(typed, text)
    name = str(raw_text.get("name") or f"step-{index}")
    vols = []
    for v in raw_text.get("volumes") or []:
        if isinstance(v, dict) and v.get("name") in volumes:
            vols.append((volumes[v["name"]], str(v.get("path", ""))))
    settings, settings_text = _struct(raw.get("settings"), raw_text.get("settings"))
    env, env_text = _struct(raw.get("environment"), raw_text.get("environment"))
    problems = decode_problems((raw.get("settings"), raw_text.get("settings")),
                               (raw.get("environment"), raw_text.get("environment")))
    commands = raw_text.get("commands") or []
    return Step(name=name, image=str(raw_text.get("image") or ""),
                commands=[str(c) for c in commands] if isinstance(commands, list) else [str(commands)],
                settings=settings, settings_text=settings_text, environment=env, env_text=env_text, problems=problems,
                when=raw.get("when") or {}, volumes=vols, privileged=raw.get("privileged") is True,
                entrypoint=raw_text.get("entrypoint"), failure=str(raw_text.get("failure") or ""))


def _line_of(text: str, pos: int) -> int:
    return text.encode("utf-8", "surrogateescape")[:pos].count(b"\n") + 1


def load(text: str) -> tuple[list[Any], list[Any]]:
    """The documents typed as Drone's go-yaml v2 reader types them, and the same read as Go strings."""
    try:
        return ([d for d in goyaml.load_all(text) if d is not None],
                [d for d in goyaml.load_all(text, as_text=True) if d is not None])
    except goyaml.GoYAMLError as exc:
        raise PipelineError(f"not valid YAML for Drone: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise PipelineError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}{where}") from None


def parse(text: str, env: Mapping[str, str] | None = None) -> list[Pipeline]:
    """The docker pipelines in a ``.drone.yml`` (after Drone's substitution with ``env`` when given: a text
    envsubst refuses is a ``PipelineError`` naming its line, as Drone fails the build on it)."""
    if env is not None:
        try:
            text = substitute(text, env)
        except SubstitutionError as exc:
            at = f" (line {_line_of(text, exc.pos)})" if getattr(exc, "pos", None) is not None else ""
            raise PipelineError(f"Drone's substitution refuses the file: {exc}{at}") from None
    docs, texts = load(text)
    if len(docs) != len(texts):
        texts = docs
    pipelines = []
    for n, (doc, doc_text) in enumerate(zip(docs, texts), 1):
        if not isinstance(doc, dict):
            raise PipelineError(f"document {n}: expected a map, got {type(doc).__name__}")
        doc, doc_text = _struct(doc, doc_text)
        if "pipeline" in doc and "kind" not in doc:  # Drone 0.8
            steps = doc["pipeline"]
            if not isinstance(steps, dict):
                raise PipelineError(f"document {n}: pipeline: must be a map of named steps")
            pipelines.append(Pipeline(name="default", legacy=True,
                                      steps=[_step_08(k, v or {}, x or {})
                                             for k, v, x in _pairs(steps, doc_text.get("pipeline"))]))
            continue
        if doc_text.get("kind") != "pipeline" or (doc_text.get("type") or "docker") != "docker":
            continue  # secrets, signatures, other runners
        volumes = {}
        for v in doc_text.get("volumes") or []:
            if isinstance(v, dict) and v.get("name"):
                host = (v.get("host") or {}).get("path") if isinstance(v.get("host"), dict) else None
                volumes[str(v["name"])] = str(host or "")
        raw_steps = doc.get("steps") or []
        steps_text = doc_text.get("steps") or []
        if not isinstance(raw_steps, list):
            raise PipelineError(f"pipeline {doc_text.get('name', n)!r}: steps: must be a list")
        if not isinstance(steps_text, list) or len(steps_text) != len(raw_steps):
            steps_text = raw_steps
        pipelines.append(Pipeline(name=str(doc_text.get("name") or "default"), trigger=doc.get("trigger") or {},
                                  steps=[_step_1x(s or {}, x or {}, volumes, i)
                                         for i, (s, x) in enumerate(zip(raw_steps, steps_text), 1)]))
    for pipeline in pipelines:
        for step in pipeline.steps:
            for problem in step.problems:
                raise PipelineError(f"pipeline {pipeline.name!r}, step {step.name!r}: {problem}")
            if not step.image:
                raise PipelineError(f"pipeline {pipeline.name!r}, step {step.name!r}: image: is required")
    return pipelines


def raw_steps(text: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(name, raw step map, is 0.8) for every step, without substitution: what lint checks. Values are typed
    as Drone types them; keys are as go-yaml decodes them into Go strings."""
    out = []
    docs, texts = load(text)
    if len(docs) != len(texts):
        texts = docs
    for doc, doc_text in zip(docs, texts):
        if not isinstance(doc, dict):
            continue
        doc, doc_text = _struct(doc, doc_text)
        if "pipeline" in doc and "kind" not in doc and isinstance(doc["pipeline"], dict):
            for k, v, x in _pairs(doc["pipeline"], doc_text.get("pipeline")):
                raw, raw_text = _struct(v or {}, x or {})
                raw["settings_text"] = {key: raw_text.get(key) for key in raw}
                out.append((k, raw, True))
        elif doc_text.get("kind") == "pipeline":
            steps, steps_text = doc.get("steps") or [], doc_text.get("steps") or []
            if not isinstance(steps, list):
                continue
            if not isinstance(steps_text, list) or len(steps_text) != len(steps):
                steps_text = steps
            for i, (s, x) in enumerate(zip(steps, steps_text), 1):
                if isinstance(s, dict):
                    raw, raw_text = _struct(s, x)
                    raw["settings"], raw["settings_text"] = _struct(raw.get("settings"), raw_text.get("settings"))
                    raw["environment"], raw["env_text"] = _struct(raw.get("environment"),
                                                                  raw_text.get("environment"))
                    out.append((str(raw_text.get("name") or f"step-{i}"), raw, False))
    return out


# ------------------------------------------------------------------------------------------- conditions
def _matches(cond: Any, value: str | None) -> bool:
    """A Drone condition (list, or {include, exclude}) against a value; glob patterns allowed."""
    if cond is None or cond == [] or cond == {}:
        return True
    if isinstance(cond, str):
        cond = [cond]
    include, exclude = (cond, []) if isinstance(cond, list) else (cond.get("include") or [], cond.get("exclude") or [])
    include = [include] if isinstance(include, str) else include
    exclude = [exclude] if isinstance(exclude, str) else exclude
    v = value or ""
    if any(fnmatch.fnmatchcase(v, str(p)) for p in exclude):
        return False
    return not include or any(fnmatch.fnmatchcase(v, str(p)) for p in include)


def runs(conditions: Mapping[str, Any], ctx: Mapping[str, str]) -> bool:
    """Whether a ``when:``/``trigger:`` block lets the step run for this build (event, branch, ref, status)."""
    values = {"event": ctx.get("DRONE_BUILD_EVENT"), "branch": ctx.get("DRONE_BRANCH"),
              "ref": ctx.get("DRONE_COMMIT_REF"), "repo": ctx.get("DRONE_REPO"),
              "status": ctx.get("DRONE_BUILD_STATUS") or "success",
              "target": ctx.get("DRONE_DEPLOY_TO"), "instance": None}
    for key, cond in (conditions or {}).items():
        if key in values and key != "instance" and not _matches(cond, values[key]):
            return False
    return True
