"""The rooms and their one-way arrows, read from the source (every import: top-level, lazy, TYPE_CHECKING).

    plugins (version_bump, oss_push, registry_push, cs_deploy) ──► tagship (the kit)
    tagship.pipeline (exec, lint, docs, the umbrella)          ──► tagship (the kit)
    tagship_ossd (the OSS double) imports nothing of ours; nothing of ours imports it but tests and tools.

No import circle anywhere, between modules of one package or across packages.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "tagship": ROOT / "shared/tagship",
    "tagship_ossd": ROOT / "shared/tagship_ossd",
    "version_bump": ROOT / "plugins/version_bump",
    "oss_push": ROOT / "plugins/oss_push",
    "registry_push": ROOT / "plugins/registry_push",
    "cs_deploy": ROOT / "plugins/cs_deploy",
}
PLUGINS = {"version_bump", "oss_push", "registry_push", "cs_deploy"}


@functools.cache
def modules() -> dict[str, Path]:
    found = {}
    for pkg, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [pkg, *rel.parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that `name` imports anywhere in its file."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:  # `from tagship.settings import X` → tagship.settings
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:  # `from . import log` imports the module tagship.log
                full = f"{mod}.{alias.name}"
                add(full if full in known else mod)
    return out


@functools.cache
def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def room(module: str) -> str:
    top = module.split(".")[0]
    if module == "tagship.pipeline" or module.startswith("tagship.pipeline."):
        return "pipeline"
    if top == "tagship":
        return "kit"
    if top == "tagship_ossd":
        return "ossd"
    return "plugin:" + top


def allowed(src: str, dst: str) -> bool:
    a, b = room(src), room(dst)
    if a == b:
        return True
    if a == "kit":
        return False                      # the kit imports no plugin, no tool, no double
    if a == "ossd":
        return False                      # the double stands alone
    if a.startswith("plugin:"):
        return b == "kit"                 # a plugin imports the kit only (never another plugin or a tool)
    if a == "pipeline":
        return b in ("kit", "ossd") or b.startswith("plugin:")
    return False


def test_the_graph_sees_lazy_and_relative_imports():
    g = graph()
    # lazy (inside a function) and relative imports are edges: the walker must see them or it proves nothing
    assert "cs_deploy.swarm" in g["cs_deploy.backends"]
    assert "tagship.log" in g["tagship.pipeline.runner"]
    assert "tagship_ossd.store" in g["tagship_ossd.server"]


def test_no_import_circle_anywhere():
    assert cycles(graph()) == []


def test_a_circle_is_found_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("src", sorted(modules()))
def test_arrows_between_rooms_point_one_way(src):
    wrong = sorted(dst for dst in graph()[src] if not allowed(src, dst))
    assert wrong == [], f"{src} ({room(src)}) must not import {wrong}"


def test_the_backend_interface_imports_no_backend():
    assert graph()["cs_deploy.backend"] & {"cs_deploy.swarm", "cs_deploy.aliyun_cs"} == set()
