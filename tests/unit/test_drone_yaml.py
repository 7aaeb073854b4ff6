"""The .drone.yml reader: drone-runner-docker's settings encoder, Drone's substitution, the 1.x/0.8 shapes."""

import pytest

from tagship.pipeline.drone_yaml import PipelineError, encode, parse, plugin_env, runs, substitute
from tagship.pipeline.runner import _script, docker_args, read_dotenv, semver_env


@pytest.mark.parametrize("value, env", [
    ("plain", "plain"),
    ("with,comma", "with,comma"),
    (True, "true"),
    (False, "false"),
    (42, "42"),
    (1.5, "1.5"),
    (1.0, "1"),
    (1e6, "1e+06"),          # Go's strconv.FormatFloat(v, 'g', -1, 64)
    (123456.0, "123456"),
    (0.00001, "1e-05"),
    (["latest", "1.2.3"], "latest,1.2.3"),          # list of strings: comma-joined
    ([1, True, "x"], "1,true,x"),                    # scalars are strings to the YAML decoder
    ([{"glob": "*.js", "cache": 1}], '[{"cache":1,"glob":"*.js"}]'),   # list of maps: JSON, keys sorted
    ({"b": "2", "a": [1, 2]}, '{"a":[1,2],"b":"2"}'),                # map: JSON
    ({"html": "<a>&"}, '{"html":"\\u003ca\\u003e\\u0026"}'),        # Go escapes <>& in JSON
    (None, None),                                                    # nil: not set at all
])
def test_encoder_matches_drone_runner_docker(value, env):
    assert encode(value) == env


@pytest.mark.parametrize("text, out", [
    ("${DRONE_TAG##v}", "1.2.3"),
    ("${DRONE_TAG#v}", "1.2.3"),
    ("static/${DRONE_TAG##v}/x", "static/1.2.3/x"),
    ("${DRONE_TAG%%.*}", "v1"),
    ("${DRONE_TAG%.*}", "v1.2"),
    ("${DRONE_TAG##*.}", "3"),
    ("${MISSING:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${MISSING=dflt}", "dflt"),
    ("${MISSING}", ""),                  # unknown variables become empty, as in Drone
    ("$DRONE_TAG", "$DRONE_TAG"),        # envsubst v1.0.3 substitutes only ${...}
    ("$${HOME} $$HOME", "${HOME} $HOME"),  # $$ escapes
    ("${DRONE_TAG^^}", "V1.2.3"),
    ("${DRONE_TAG:1}", "1.2.3"),
    ("${DRONE_TAG//./_}", "v1_2_3"),
])
def test_substitution(text, out):
    assert substitute(text, {"DRONE_TAG": "v1.2.3", "EMPTY": ""}) == out


PIPE_1X = """
kind: pipeline
type: docker
name: release
trigger:
  event: [tag]
volumes:
- name: sock
  host: {path: /var/run/docker.sock}
steps:
- name: push
  image: tagship/registry-push
  volumes: [{name: sock, path: /var/run/docker.sock}]
  environment:
    DOCKER_PASSWORD: {from_secret: docker_password}
  settings:
    repo: localhost:5443/live66_gateway
    tags: [latest, "${DRONE_TAG##v}"]
    password: {from_secret: Docker_Password}
    missing: {from_secret: nope}
    nothing: null
- name: test
  image: tagship/busybox
  commands: [echo hi, "exit 0"]
  when: {event: {exclude: [tag]}}
---
kind: secret
name: x
"""


def test_parse_1x_settings_env_secrets_and_volumes():
    [pipe] = parse(PIPE_1X, {"DRONE_TAG": "v2.0.1"})
    push, test = pipe.steps
    assert push.volumes == [("/var/run/docker.sock", "/var/run/docker.sock")]
    env, secrets = plugin_env(push, {"docker_password": "SENTINEL-pw-7d1f"})
    assert env["PLUGIN_REPO"] == "localhost:5443/live66_gateway"
    assert env["PLUGIN_TAGS"] == "latest,2.0.1"
    assert env["PLUGIN_PASSWORD"] == "SENTINEL-pw-7d1f"   # secret names match case-insensitively
    assert env["DOCKER_PASSWORD"] == "SENTINEL-pw-7d1f"
    assert "PLUGIN_MISSING" not in env and "PLUGIN_NOTHING" not in env
    assert secrets == {"SENTINEL-pw-7d1f"}
    assert test.commands == ["echo hi", "exit 0"] and not test.is_plugin
    assert not runs(test.when, {"DRONE_BUILD_EVENT": "tag"}) and runs(test.when, {"DRONE_BUILD_EVENT": "push"})
    assert runs(pipe.trigger, {"DRONE_BUILD_EVENT": "tag"}) and not runs(pipe.trigger, {"DRONE_BUILD_EVENT": "push"})


def test_parse_08_step_level_settings_and_secrets():
    text = """
pipeline:
  push_static:
    image: tagship/oss-push
    secrets: [aliyun_access_key_id, {source: oss_secret, target: aliyun_access_key_secret}]
    bucket: lyops
    target: static_root/${DRONE_TAG##v}
    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
    when: {event: tag}
"""
    [pipe] = parse(text, {"DRONE_TAG": "v1.0.0"})
    [step] = pipe.steps
    assert pipe.legacy and step.settings == {"bucket": "lyops", "target": "static_root/1.0.0"}
    env, _ = plugin_env(step, {"aliyun_access_key_id": "AK", "oss_secret": "SK"})
    assert env == {"PLUGIN_BUCKET": "lyops", "PLUGIN_TARGET": "static_root/1.0.0",
                   "ALIYUN_ACCESS_KEY_ID": "AK", "ALIYUN_ACCESS_KEY_SECRET": "SK"}
    assert step.volumes == [("/var/run/docker.sock", "/var/run/docker.sock")]


def test_semver_env_like_runner_go():
    assert semver_env("v1.2.3-rc.1+b7") == {
        "DRONE_SEMVER": "1.2.3-rc.1+b7", "DRONE_SEMVER_MAJOR": "1", "DRONE_SEMVER_MINOR": "2",
        "DRONE_SEMVER_PATCH": "3", "DRONE_SEMVER_SHORT": "1.2.3", "DRONE_SEMVER_PRERELEASE": "rc.1",
        "DRONE_SEMVER_BUILD": "b7"}
    assert list(semver_env("v1.2")) == ["DRONE_SEMVER_ERROR"]


def test_docker_args_never_carry_secret_values(tmp_path):
    [pipe] = parse(PIPE_1X, {"DRONE_TAG": "v2.0.1"})
    env, _ = plugin_env(pipe.steps[0], {"docker_password": "SENTINEL-pw-7d1f"})
    args = docker_args(pipe.steps[0], sorted(env), tmp_path, "host", "n")
    assert "SENTINEL-pw-7d1f" not in " ".join(args)
    assert ["-e", "PLUGIN_PASSWORD"] == args[args.index("PLUGIN_PASSWORD") - 1:args.index("PLUGIN_PASSWORD") + 1]
    assert f"{tmp_path}:/drone/src" in args and args[args.index("-w") + 1] == "/drone/src"
    assert args[-1] == "tagship/registry-push"


def test_commands_script_stops_at_first_failure():
    script = _script(["echo a", "false", "echo b"])
    assert script.startswith("set -e\n") and "echo '+ echo a'" in script


def test_read_dotenv(tmp_path):
    f = tmp_path / "s.env"
    f.write_text("# c\nexport A=1\nB='two words'\nC=\"x=y\"\n\n")
    assert read_dotenv(f) == {"A": "1", "B": "two words", "C": "x=y"}
    f.write_text("nonsense\n")
    with pytest.raises(ValueError, match="s.env:1"):
        read_dotenv(f)


@pytest.mark.parametrize("text, message", [
    ("kind: pipeline\nname: p\nsteps:\n- name: a\n  commands: [ls]\n", "step 'a': image: is required"),
    ("kind: pipeline\nsteps: {a: 1}\n", "steps: must be a list"),
    ("kind: pipeline\nsteps:\n- name: 'a\n", "not valid YAML"),
])
def test_broken_pipelines_are_one_line_errors(text, message):
    with pytest.raises(PipelineError, match=message):
        parse(text, {})
