"""cs-deploy settings: the seed's deploy step ports unchanged (its env names are aliases), bad settings are one
line naming the env var (exit 2), and secrets never appear in --help or errors."""

from __future__ import annotations

import pytest

from cs_deploy.__main__ import main
from cs_deploy.settings import Settings, looks_secret
from tagship.errors import SettingsError
from tagship.settings import load_settings

SEED = {"ALIYUN_ACCESS_KEY_ID": "LTAI-test", "ALIYUN_ACCESS_KEY_SECRET": "SENTINEL-sk-51c0", "REGION": "cn-shanghai",
        "CLUSTER_ID": "c123", "PROJECT_NAME": "cmdb-api", "VERSION": "1.4.0", "PGCRYPTO_DEFAULT_KEY": "x",
        "PLUGIN_BACKEND": "aliyun-cs"}


def test_the_seed_step_env_is_read_as_is():
    s, _ = load_settings(Settings, SEED)
    assert (s.stack, s.region, s.cluster_id, s.version) == ("cmdb-api", "cn-shanghai", "c123", "1.4.0")
    assert s.access_key_secret.get_secret_value() == "SENTINEL-sk-51c0"
    assert s.timeout == 600 and s.rollback == "auto" and s.lint == "warn" and s.backend == "aliyun-cs"


def test_defaults_for_swarm():
    s, _ = load_settings(Settings, {"PLUGIN_STACK": "shop", "PLUGIN_ENVIRONMENT": '{"N": 2, "ON": true}',
                                    "PLUGIN_ENV_FROM": "A,B", "PLUGIN_TIMEOUT": "90s"})
    assert s.backend == "swarm" and s.compose_file == "docker-compose.yml" and s.environment == {"N": "2", "ON": "true"}
    assert s.env_from == ["A", "B"] and s.timeout == 90 and not s.prune and not s.allow_floating


@pytest.mark.parametrize("env, line", [
    ({}, "PLUGIN_STACK: required"),
    ({"PLUGIN_STACK": "-bad name"}, "PLUGIN_STACK: '-bad name' is not a valid"),
    ({"PLUGIN_STACK": "s", "PLUGIN_BACKEND": "k8s"}, "PLUGIN_BACKEND: expected one of"),
    ({"PLUGIN_STACK": "s", "PLUGIN_BACKEND": "aliyun-cs"}, "PLUGIN_ACCESS_KEY_ID: required with backend aliyun-cs"),
    ({"PLUGIN_STACK": "s", "PLUGIN_TIMEOUT": "5q"}, "PLUGIN_TIMEOUT: expected a duration"),
    ({"PLUGIN_STACK": "s", "PLUGIN_TLS_CERT": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"}, "PLUGIN_TLS_CERT: tls_cert and tls_key go together"),
    ({"PLUGIN_STACK": "s", "PLUGIN_REGISTRY_PASSWORD": "SENTINEL-pw"}, "PLUGIN_REGISTRY_USERNAME: required"),
    ({"PLUGIN_STACK": "s", "PLUGIN_LINT": "loud"}, "PLUGIN_LINT: expected one of"),
])
def test_bad_settings_are_one_line_naming_the_env_var(env, line):
    with pytest.raises(SettingsError) as err:
        load_settings(Settings, env)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(line), err.value.problems


def test_bad_settings_exit_2_without_traceback_or_secret(monkeypatch, capsys, tmp_path):
    for k in list(__import__("os").environ):
        if k.startswith(("PLUGIN_", "DRONE_")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("DRONE_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("PLUGIN_STACK", "s")
    monkeypatch.setenv("PLUGIN_REGISTRY_PASSWORD", "SENTINEL-pw-7d1f")
    assert main([]) == 2
    out = capsys.readouterr()
    assert "PLUGIN_REGISTRY_USERNAME" in out.out + out.err
    assert "SENTINEL-pw-7d1f" not in out.out + out.err and "Traceback" not in out.out + out.err


def test_help_lists_every_setting_and_marks_secrets(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for name in Settings.model_fields:
        assert f"PLUGIN_{name.upper()}" in text
    assert "ALIYUN_ACCESS_KEY_SECRET" in text and "PROJECT_NAME" in text
    secret_lines = [line for line in text.splitlines() if "PLUGIN_ACCESS_KEY_SECRET" in line or "PLUGIN_TLS_KEY" in line]
    assert all("secret" in line for line in secret_lines)


@pytest.mark.parametrize("name, secret", [
    ("PGCRYPTO_DEFAULT_KEY", True), ("DB_PASSWORD", True), ("API_TOKEN", True), ("AWS_SECRET", True),
    ("SENTRY_DSN", True), ("KEYBOARD_LAYOUT", False), ("VERSION", False), ("MONKEY", False), ("MODE", False),
])
def test_secret_looking_names(name, secret):
    assert looks_secret(name) is secret
