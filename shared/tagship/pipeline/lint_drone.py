"""What Drone itself refuses in a ``.drone.yml``, for every step (not only tagship's), with step, key and line.

- a template drone/envsubst refuses (``${A-x}``, ``${``, ``${ A}``…): Drone fails the build on it, whatever the
  step, and even in a comment;
- a value go-yaml cannot decode (``!!int x``) or a shape Drone's types cannot take (``settings:`` that is not
  a map, ``commands:`` that is not a list of strings, an ``environment:`` value that is a list);
- a null ``environment:`` value (``A:`` or ``A: ~``): a nil pointer in the runner, which fails the pipeline.
"""

from __future__ import annotations

from typing import Iterator

import yaml

from . import envsubst, goyaml

_NULLS = {"", "~", "null", "Null", "NULL"}


def _text(node: yaml.Node) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else ""


def _get(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if _text(k) == key:
                return v
    return None


def steps(docs: list[yaml.Node]) -> Iterator[tuple[str, yaml.Node, bool]]:
    """(name, step node, is 0.8) for every step of every pipeline document."""
    for doc in docs:
        legacy = _get(doc, "pipeline")
        if isinstance(legacy, yaml.MappingNode) and _get(doc, "kind") is None:
            for k, v in legacy.value:
                yield _text(k), v, True
            continue
        seq = _get(doc, "steps")
        if _text(_get(doc, "kind") or yaml.ScalarNode("", "")) == "pipeline" and isinstance(seq, yaml.SequenceNode):
            for i, s in enumerate(seq.value, 1):
                yield _text(_get(s, "name") or yaml.ScalarNode("", "")) or f"step-{i}", s, False


def _scalars(node: yaml.Node, path: str) -> Iterator[tuple[str, yaml.ScalarNode]]:
    if isinstance(node, yaml.ScalarNode):
        yield path, node
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield from _scalars(v, f"{path}[{i}]")
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            sub = f"{path}.{_text(k)}" if path else _text(k)
            yield from _scalars(k, sub)
            yield from _scalars(v, sub)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def template_findings(text: str, docs: list[yaml.Node] | None) -> list[str]:
    """Every template envsubst refuses (none when the file substitutes)."""
    try:
        envsubst.parse(text)
        return []
    except envsubst.SubstitutionError as exc:
        first = exc
    first_line = text.encode("utf-8", "surrogateescape")[:first.pos or 0].count(b"\n") + 1
    owner: dict[int, tuple[str, str]] = {}
    for name, step, _ in steps(docs or []):
        for path, node in _scalars(step, ""):
            owner[id(node)] = (name, path)
    findings, lines = [], set()
    for doc in docs or []:
        for path, node in _scalars(doc, ""):
            span = text[node.start_mark.index:node.end_mark.index]
            if "$" not in span:
                continue
            try:
                envsubst.parse(span)
            except envsubst.SubstitutionError as exc:
                where, key = owner.get(id(node), ("(pipeline)", path))
                line = _line(node) + span.encode("utf-8", "surrogateescape")[:exc.pos or 0].count(b"\n")
                lines.add(line)
                findings.append(f"{where}: {key}: Drone's substitution refuses {span.strip()!r}: {exc} "
                                f"(line {line}); write $$ for a literal $")
    if first_line not in lines:
        findings.append(f"(file): line {first_line}: Drone's substitution refuses the file here: {first}; "
                        f"write $$ for a literal $ (comments are substituted too)")
    return findings


def step_findings(name: str, step: yaml.Node, legacy: bool) -> list[str]:
    """Type errors and null environment values in one step."""
    out = []
    for key, kind in (("settings", yaml.MappingNode), ("environment", yaml.MappingNode),
                      ("commands", yaml.SequenceNode)):
        node = _get(step, key)
        if node is None or (isinstance(node, yaml.ScalarNode) and node.value in _NULLS and node.style is None):
            continue
        if legacy and key == "environment" and isinstance(node, yaml.SequenceNode):
            continue  # 0.8 takes a list of K=V
        if not isinstance(node, kind):
            want = "a map" if kind is yaml.MappingNode else "a list"
            out.append(f"{name}: {key}: Drone cannot read it: expected {want} (line {_line(node)})")
        elif key == "commands" and any(not isinstance(c, yaml.ScalarNode) for c in node.value):
            out.append(f"{name}: {key}: Drone cannot read it: every command must be a string (line {_line(node)})")
    env = _get(step, "environment")
    decoded: list[tuple[str, yaml.Node, bool]] = []  # what go-yaml decodes (can fail on); is it a pointer
    if isinstance(env, yaml.MappingNode):
        for k, v in env.value:
            if isinstance(v, yaml.ScalarNode) and (v.tag == goyaml.NULL_TAG or (
                    v.tag == goyaml.PLAIN_TAG and v.value in ("", "~", "null"))):
                out.append(f"{name}: {_text(k)}: a null environment value (Drone's runner fails the pipeline on "
                           f"it; line {_line(v)}); quote it (\"\") or remove it")
            elif isinstance(v, yaml.SequenceNode):
                out.append(f"{name}: {_text(k)}: Drone cannot read this environment value: a list "
                           f"(line {_line(v)}); write a string or {{from_secret: name}}")
            elif isinstance(v, yaml.MappingNode):
                decoded += [(f"{_text(k)}.{_text(f)}", x, False) for f, x in v.value
                            if _text(f) in ("value", "from_secret")]
            else:
                decoded.append((_text(k), v, True))
    settings = _get(step, "settings")
    if isinstance(settings, yaml.MappingNode):
        decoded += [(f"settings.{_text(k)}", v, True) for k, v in settings.value]
    for top, node, pointer in decoded:
        if pointer and isinstance(node, yaml.ScalarNode) and node.tag == goyaml.STR_TAG and node.style in ("'", '"') \
                and node.value in ("~", "null"):
            out.append(f"{name}: {top}: Drone cannot read a quoted {node.value!r} here: go-yaml v2 takes it for null "
                       f"(line {_line(node)}); write another value or drop the key")
        for path, scalar in _scalars(node, top):
            if scalar.tag in goyaml.EXPLICIT_TAGS:
                try:
                    goyaml.explicit(scalar.tag, scalar.value)
                except goyaml.GoYAMLError as exc:
                    out.append(f"{name}: {path}: {exc} (line {_line(scalar)})")
    return out


def drone_findings(text: str) -> list[str]:
    """Everything Drone would refuse in the file, one line each."""
    try:
        docs = [d for d in goyaml.compose_all(text) if d is not None]
    except yaml.YAMLError:
        docs = None  # not YAML before substitution: only the whole-file check
    findings = template_findings(text, docs)
    for name, step, legacy in steps(docs or []):
        findings += step_findings(name, step, legacy)
    return findings
