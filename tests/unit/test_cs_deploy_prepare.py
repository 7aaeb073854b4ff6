"""cs-deploy before the cluster: variables from settings, env_from and Drone; the rendered file printed with
secrets masked (from env_from, from secret-looking names, even literals in the file); exit-2 problems."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from cs_deploy.deploy import prepare
from cs_deploy.settings import Settings
from tagship import log, mask
from tagship.context import load_context
from tagship.errors import SettingsError
from tagship.settings import load_settings

COMPOSE = """services:
  web:
    image: reg.example/api:${VERSION}
    environment:
      PGCRYPTO_DEFAULT_KEY: ${PGCRYPTO_DEFAULT_KEY}
      DB_PASSWORD: SENTINEL-literal-pw-0c4d
      BUILD: ${DRONE_BUILD_NUMBER}
      MODE: ${MODE:-prod}
"""


def setup(tmp_path, compose=COMPOSE, **env):
    (tmp_path / "docker-compose.yml").write_text(compose)
    environ = {"DRONE_WORKSPACE": str(tmp_path), "DRONE_TAG": "v2.3.0", "DRONE_BUILD_NUMBER": "41",
               "PLUGIN_STACK": "cmdb", "PLUGIN_ENV_FROM": "PGCRYPTO_DEFAULT_KEY",
               "PGCRYPTO_DEFAULT_KEY": "SENTINEL-pgkey-77aa", **env}
    settings, _ = load_settings(Settings, environ)
    run = SimpleNamespace(ctx=load_context(environ), workspace=tmp_path, result={},
                          secret=lambda v: mask.register(v))
    out = io.StringIO()
    log.configure(stream=out)
    return settings, run, environ, out


def test_renders_with_seed_variables_and_masks_every_secret(tmp_path):
    settings, run, environ, out = setup(tmp_path)
    try:
        desired = prepare(settings, run, environ)
    finally:
        log.configure()
    web = desired.services["web"]
    assert web.image == "reg.example/api:2.3.0" and desired.version == "2.3.0"
    assert web.env == {"PGCRYPTO_DEFAULT_KEY": "SENTINEL-pgkey-77aa", "DB_PASSWORD": "SENTINEL-literal-pw-0c4d",
                       "BUILD": "41", "MODE": "prod"}
    assert desired.environment == {"PGCRYPTO_DEFAULT_KEY": "SENTINEL-pgkey-77aa", "VERSION": "2.3.0"}
    printed = out.getvalue()
    assert "image: reg.example/api:2.3.0" in printed and "PGCRYPTO_DEFAULT_KEY: ******" in printed
    assert "SENTINEL" not in printed
    assert any("DB_PASSWORD" in f for f in run.result["lint"])    # the literal is also a lint finding


@pytest.mark.parametrize("compose, env, line", [
    ("services:\n  web:\n    image: a:${NOPE}\n", {}, "PLUGIN_COMPOSE_FILE: services.web.image: ${NOPE} is not set"),
    (COMPOSE, {"PLUGIN_ENV_FROM": "PGCRYPTO_DEFAULT_KEY,MISSING_ONE"}, "PLUGIN_ENV_FROM: MISSING_ONE not set"),
    ("services:\n  web:\n    image: a:latest\n", {}, "PLUGIN_ALLOW_FLOATING: services.web.image: a:latest"),
    ("services:\n  web:\n    build: .\n", {}, "PLUGIN_COMPOSE_FILE: services.web: no image"),
    ("services:\n  web:\n    image: a:1\n    links: [a, b, c, d, e, f]\n", {"PLUGIN_LINT": "enforce"},
     "PLUGIN_LINT: services.web.links: 6 links"),
    ("services:\n  web:\n    image: a:1\n    replicas: 2\n", {}, "PLUGIN_COMPOSE_FILE: services.web"),
])
def test_problems_before_the_cluster_are_exit_2_lines(tmp_path, compose, env, line):
    settings, run, environ, _ = setup(tmp_path, compose, **env)
    try:
        with pytest.raises(SettingsError) as err:
            prepare(settings, run, environ)
    finally:
        log.configure()
    assert err.value.problems[0].startswith(line), err.value.problems


def test_floating_allowed_when_asked(tmp_path):
    settings, run, environ, _ = setup(tmp_path, "services:\n  web:\n    image: a:latest\n",
                                      PLUGIN_ALLOW_FLOATING="true")
    try:
        assert prepare(settings, run, environ).services["web"].image == "a:latest"
    finally:
        log.configure()
