"""Benchmarks do not rot: each one compiles, and every module of ours it imports (anywhere in the file) exists.

They are run by hand (`make bench`), so a moved module would otherwise be noticed only when someone wants a
figure."""

import ast
import importlib.util
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).resolve().parents[2] / "bench").glob("bench_*.py"))
OURS = ("tagship", "tagship_ossd", "version_bump", "oss_push", "registry_push", "cs_deploy")


@pytest.mark.parametrize("path", BENCH, ids=lambda p: p.name)
def test_benchmark_imports_resolve(path):
    tree = ast.parse(path.read_text(), str(path))
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] not in OURS:
                continue
            if importlib.util.find_spec(name.rpartition(".")[0] or name) is None:
                missing.append(name)
            elif name == names[0] and importlib.util.find_spec(name) is None:
                missing.append(name)
    assert missing == []


def test_there_are_benchmarks():
    assert len(BENCH) >= 8
