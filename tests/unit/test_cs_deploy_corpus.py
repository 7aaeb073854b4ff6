"""Every compose file of the corpus (103 real files from public projects, ../shared/corpus/compose beside the checkout, or
$TAGSHIP_CORPUS_DIR) goes through cs-deploy's pure path — load, substitute, schema, env, names, ServiceSpec —
and ends either in specs or in a clear settings error (exit 2), never in an internal error (exit 1 traceback).

No variables are given, as a user who has not set any yet: an unset variable is exit 2 naming it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cs_deploy import compose_schema, plan, render, swarm_env, swarm_objects, swarm_spec
from tagship.errors import SettingsError

CORPUS = Path(os.environ.get("TAGSHIP_CORPUS_DIR") or Path(__file__).resolve().parents[3] / "shared/corpus/compose")
FILES = sorted(CORPUS.glob("*.y*ml"))


def convert(path: Path, variables: dict[str, str]) -> dict[str, dict]:
    """The pure half of a swarm deploy; returns the ServiceSpecs or raises SettingsError (exit 2)."""
    raw = render.load(path)
    compose, _ = render.render(raw, variables)
    swarm_env.resolve(compose, variables, path.parent)
    stack = "corpus"
    objs = swarm_objects.table(compose, stack)
    problems = compose_schema.problems(compose) + swarm_objects.undeclared(compose, objs)
    if problems:
        raise SettingsError(problems)
    refs = {kind: {k: ("", o.name) for k, o in objs[kind].items()} for kind in ("configs", "secrets")}
    images = {n: str((s or {}).get("image") or "") for n, s in compose["services"].items()}
    specs = {}
    for name, want in plan.service_wants(compose, images).items():
        try:
            specs[name] = swarm_spec.service_spec(stack, want, objs, refs["configs"], refs["secrets"], path.parent)
        except ValueError as exc:
            raise SettingsError(f"PLUGIN_COMPOSE_FILE: services.{name}: {exc}") from None
    return specs


def test_the_corpus_is_there():
    assert len(FILES) >= 100, f"expected the compose corpus in {CORPUS}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_no_internal_error_on_any_corpus_file(path):
    try:
        specs = convert(path, {})
    except SettingsError as exc:
        lines = exc.args[0] if isinstance(exc.args[0], list) else [str(exc.args[0])]
        assert all(str(line).strip() for line in lines), "an exit 2 names the key"
        return
    assert specs and all(s["Name"].startswith("corpus_") for s in specs.values())
