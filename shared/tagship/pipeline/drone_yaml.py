"""Reading a ``.drone.yml`` the way Drone does: substitution, the 1.x and 0.8 shapes, the settings encoder.

Used by ``tagship lint`` and ``tagship exec``. The rules are drone-runner-docker's (research/version-and-drone.md
B1-B3): ``settings:`` become ``PLUGIN_<KEY upper-cased>`` (``-`` and ``.`` kept), strings as they are, bools
``true``/``false``, ints, floats as Go's ``%g`` (shortest), a list of scalars comma-joined, any other list or
map as JSON (keys sorted, ``<>&`` escaped, as Go's ``json.Marshal``), ``nil`` skipped, ``{from_secret: name}``
a secret. Drone 0.8 (``pipeline:`` map) puts plugin settings at step level and names secrets in ``secrets:``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

import yaml

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

    @property
    def is_plugin(self) -> bool:
        return not self.commands


@dataclass
class Pipeline:
    name: str
    steps: list[Step]
    trigger: dict[str, Any] = field(default_factory=dict)
    legacy: bool = False


# ------------------------------------------------------------------------------------------- substitution
_EXPR = re.compile(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"^#?([A-Za-z_][A-Za-z0-9_]*)(.*)$", re.S)


def _strip(value: str, pattern: str, prefix: bool, longest: bool) -> str:
    rx = re.compile(fnmatch.translate(pattern), re.S)
    sizes = range(len(value), -1, -1) if longest else range(0, len(value) + 1)
    for n in sizes:
        part = value[:n] if prefix else value[len(value) - n:]
        if rx.match(part):
            return value[n:] if prefix else value[:len(value) - n]
    return value


def _apply(expr: str, env: Mapping[str, str]) -> str:
    m = _NAME.match(expr)
    if not m:
        return ""
    name, op = m.group(1), m.group(2)
    if expr.startswith("#"):
        return str(len(env.get(name, "")))
    value, is_set = env.get(name, ""), name in env
    if not op:
        return value
    for token, fn in _OPS:
        if op.startswith(token):
            return fn(value, is_set, op[len(token):])
    if op.startswith(":"):  # ${VAR:offset} / ${VAR:offset:length}
        parts = op[1:].split(":")
        try:
            start = int(parts[0].strip() or 0)
            return value[start:start + int(parts[1])] if len(parts) > 1 else value[start:]
        except ValueError:
            return value
    return value


def _replace(value: str, arg: str, every: bool) -> str:
    old, _, new = arg.partition("/")
    if not old:
        return value
    return value.replace(old, new) if every else value.replace(old, new, 1)


_OPS: list[tuple[str, Callable[[str, bool, str], str]]] = [
    ("##", lambda v, s, a: _strip(v, a, True, True)),
    ("#", lambda v, s, a: _strip(v, a, True, False)),
    ("%%", lambda v, s, a: _strip(v, a, False, True)),
    ("%", lambda v, s, a: _strip(v, a, False, False)),
    (":-", lambda v, s, a: v if v else a),
    (":=", lambda v, s, a: v if v else a),
    ("-", lambda v, s, a: v if s else a),
    ("=", lambda v, s, a: v if s else a),
    (":+", lambda v, s, a: a if v else ""),
    ("+", lambda v, s, a: a if s else ""),
    ("^^", lambda v, s, a: v.upper()),
    ("^", lambda v, s, a: v[:1].upper() + v[1:]),
    (",,", lambda v, s, a: v.lower()),
    (",", lambda v, s, a: v[:1].lower() + v[1:]),
    ("//", lambda v, s, a: _replace(v, a, True)),
    ("/", lambda v, s, a: _replace(v, a, False)),
]


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Drone's envsubst on the raw YAML: ``${VAR}``, ``$VAR``, ``${VAR##v}``, ``${VAR:-x}``…; ``$$`` is ``$``.
    An unknown variable becomes the empty string, as in Drone."""
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        if m.group(2) is not None:
            return env.get(m.group(2), "")
        return _apply(m.group(1), env)
    return _EXPR.sub(one, text)


def variables(text: str) -> set[str]:
    """The variable names a text substitutes (for lint's notes)."""
    names = set()
    for m in _EXPR.finditer(text):
        expr = m.group(1) if m.group(1) is not None else m.group(2)
        if expr:
            nm = _NAME.match(expr)
            if nm:
                names.add(nm.group(1))
    return names


# ------------------------------------------------------------------------------------------- encoder
def _go_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)``: shortest digits; exponent form below 1e-4 or from 1e6."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    point = len(ds) + exp  # position of the decimal point from the left of the digits
    x = point - 1
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return neg + ds + "0" * (point - len(ds))
    return f"{neg}{ds[:point]}.{ds[point:]}"


def go_json(value: Any) -> str:
    """Go's ``json.Marshal`` of YAML data: compact, map keys sorted, ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(_jsonable(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # dates and the like, as YAML would write them


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return value
    return None


def encode(value: Any) -> str | None:
    """One setting's env value as drone-runner-docker writes it; ``None`` means the variable is not set."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (list, tuple)):
        items = [_scalar(v) if v is not None else "" for v in value]
        if all(i is not None for i in items):
            return ",".join(items)  # type: ignore[arg-type]
        return go_json(value)
    scalar = _scalar(value)
    if scalar is not None:
        return scalar
    return go_json(value)


def secret_name(value: Any) -> str | None:
    """``{from_secret: name}`` → name (only at the top level of a setting, as in Drone 1.x)."""
    if isinstance(value, dict) and set(value) == {"from_secret"}:
        return str(value["from_secret"])
    return None


def plugin_env(step: Step, secrets: Mapping[str, str]) -> tuple[dict[str, str], set[str]]:
    """The environment Drone gives the step (settings + environment + 0.8 secrets), and the secret values.
    Secret names are looked up case-insensitively; a missing secret leaves the variable unset, as in Drone."""
    lookup = {k.lower(): v for k, v in secrets.items()}
    env: dict[str, str] = {}
    used: set[str] = set()

    def put(key: str, value: Any) -> None:
        name = secret_name(value)
        if name is not None:
            if name.lower() in lookup:
                env[key] = lookup[name.lower()]
                used.add(lookup[name.lower()])
            return
        text = encode(value)
        if text is not None:
            env[key] = text

    for key, value in step.environment.items():
        put(str(key), value)
    for key, value in step.settings.items():
        put("PLUGIN_" + str(key).upper(), value)
    return env, used


# ------------------------------------------------------------------------------------------- parsing
def _volumes_08(raw: Any) -> list[tuple[str, str]]:
    out = []
    for item in raw or []:
        if isinstance(item, str) and ":" in item:
            host, _, rest = item.partition(":")
            out.append((host, rest.split(":")[0]))
    return out


def _step_08(name: str, raw: dict[str, Any]) -> Step:
    env = dict(raw.get("environment") or {}) if isinstance(raw.get("environment"), dict) else {}
    if isinstance(raw.get("environment"), list):
        for item in raw["environment"]:
            k, _, v = str(item).partition("=")
            env[k] = v
    for item in raw.get("secrets") or []:
        if isinstance(item, dict):
            env[str(item.get("target", item.get("source", ""))).upper()] = {"from_secret": item.get("source")}
        else:
            env[str(item).upper()] = {"from_secret": str(item)}
    settings = {k: v for k, v in raw.items() if k not in STEP_KEYS_08}
    commands = raw.get("commands") or []
    return Step(name=name, image=str(raw.get("image", "")), commands=[str(c) for c in commands],
                settings=settings, environment=env, when=raw.get("when") or {},
                volumes=_volumes_08(raw.get("volumes")), privileged=bool(raw.get("privileged")),
                entrypoint=raw.get("entrypoint"), legacy=True)


def _step_1x(raw: dict[str, Any], volumes: Mapping[str, str], index: int) -> Step:
    name = str(raw.get("name") or f"step-{index}")
    vols = []
    for v in raw.get("volumes") or []:
        if isinstance(v, dict) and v.get("name") in volumes:
            vols.append((volumes[v["name"]], str(v.get("path", ""))))
    env = raw.get("environment") or {}
    return Step(name=name, image=str(raw.get("image", "")), commands=[str(c) for c in raw.get("commands") or []],
                settings=dict(raw.get("settings") or {}), environment=dict(env) if isinstance(env, dict) else {},
                when=raw.get("when") or {}, volumes=vols, privileged=bool(raw.get("privileged")),
                entrypoint=raw.get("entrypoint"), failure=str(raw.get("failure") or ""))


def parse(text: str, env: Mapping[str, str] | None = None) -> list[Pipeline]:
    """The docker pipelines in a ``.drone.yml`` (after substitution with ``env`` when given)."""
    if env is not None:
        text = substitute(text, env)
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise PipelineError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}{where}") from None
    pipelines = []
    for n, doc in enumerate(docs, 1):
        if not isinstance(doc, dict):
            raise PipelineError(f"document {n}: expected a map, got {type(doc).__name__}")
        if "pipeline" in doc and "kind" not in doc:  # Drone 0.8
            steps = doc["pipeline"]
            if not isinstance(steps, dict):
                raise PipelineError(f"document {n}: pipeline: must be a map of named steps")
            pipelines.append(Pipeline(name="default", legacy=True,
                                      steps=[_step_08(str(k), v or {}) for k, v in steps.items()]))
            continue
        if doc.get("kind") != "pipeline" or doc.get("type", "docker") != "docker":
            continue  # secrets, signatures, other runners
        volumes = {}
        for v in doc.get("volumes") or []:
            if isinstance(v, dict) and v.get("name"):
                host = (v.get("host") or {}).get("path") if isinstance(v.get("host"), dict) else None
                volumes[str(v["name"])] = str(host or "")
        raw_steps = doc.get("steps") or []
        if not isinstance(raw_steps, list):
            raise PipelineError(f"pipeline {doc.get('name', n)!r}: steps: must be a list")
        pipelines.append(Pipeline(name=str(doc.get("name") or "default"), trigger=doc.get("trigger") or {},
                                  steps=[_step_1x(s or {}, volumes, i) for i, s in enumerate(raw_steps, 1)]))
    for pipeline in pipelines:
        for step in pipeline.steps:
            if not step.image:
                raise PipelineError(f"pipeline {pipeline.name!r}, step {step.name!r}: image: is required")
    return pipelines


def raw_steps(text: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(name, raw step map, is 0.8) for every step, without substitution: what lint checks."""
    out = []
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict):
            continue
        if "pipeline" in doc and "kind" not in doc and isinstance(doc["pipeline"], dict):
            out += [(str(k), v or {}, True) for k, v in doc["pipeline"].items()]
        elif doc.get("kind") == "pipeline":
            out += [(str(s.get("name") or f"step-{i}"), s, False)
                    for i, s in enumerate(doc.get("steps") or [], 1) if isinstance(s, dict)]
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
