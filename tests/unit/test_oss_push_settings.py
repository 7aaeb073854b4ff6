"""oss-push settings as Drone writes them: the seed's step unchanged, aliases, one line per bad setting."""

import pytest

from tagship.errors import SettingsError
from tagship.settings import load_settings, renamed_settings

from oss_push import plan
from oss_push.__main__ import main
from oss_push.settings import Settings

SEED = {  # the seed's push_static step, as drone-runner-docker hands it to the container
    "PLUGIN_ACCESS_KEY_ID": "LTAIseed", "PLUGIN_ACCESS_KEY_SECRET": "SENTINEL-seed-secret",
    "PLUGIN_ENDPOINT": "oss-cn-shanghai.aliyuncs.com", "PLUGIN_BUCKET": "lyops",
    "PLUGIN_TARGET": "static_root/1.2.3", "PLUGIN_DEST": "cmdb-api/static/1.2.3",
}


def test_seed_step_unchanged():
    s, source = load_settings(Settings, SEED)
    assert (s.source, s.dest, s.bucket) == ("static_root/1.2.3", "cmdb-api/static/1.2.3", "lyops")
    assert s.endpoint == "https://oss-cn-shanghai.aliyuncs.com"      # no scheme: https, not oss2's http
    assert plan.signing(s.signature, s.region, s.endpoint).line == "signing V4 (region cn-shanghai from the endpoint)"
    assert s.signature == "auto" and s.region is None and s.overwrite is False and s.delete is False and s.verify is True
    assert s.concurrency == 16 and s.manifest_key == "cmdb-api/static/1.2.3/.tagship-manifest.json"
    assert renamed_settings(Settings, source) == [
        "PLUGIN_TARGET is read as PLUGIN_SOURCE (source); the old name still works"]


def test_secret_aliases_and_v4():
    env = {"OSS_ACCESS_KEY_ID": "id-1", "ALIYUN_ACCESS_KEY_SECRET": "sk-1", "PLUGIN_ENDPOINT": "http://127.0.0.1:9",
           "PLUGIN_BUCKET": "site", "PLUGIN_REGION": "cn-hangzhou", "PLUGIN_SECURITY_TOKEN": "tok-1"}
    s, _ = load_settings(Settings, env)
    assert s.access_key_id.get_secret_value() == "id-1" and s.region == "cn-hangzhou"
    assert s.security_token.get_secret_value() == "tok-1"


def test_lists_maps_and_sizes():
    env = dict(SEED, PLUGIN_INCLUDE="**/*.js,**/*.css", PLUGIN_GZIP='["*.js"]', PLUGIN_MULTIPART_THRESHOLD="64MB",
               PLUGIN_PART_SIZE="1MiB", PLUGIN_HEADERS='[{"glob": "*.js", "cache_control": "no-store", '
                                                     '"meta": {"Team": "ops"}}]')
    s, _ = load_settings(Settings, env)
    assert s.include == ["**/*.js", "**/*.css"] and s.gzip == ["*.js"]
    assert s.multipart_threshold == 64_000_000 and s.part_size == 1 << 20
    assert s.headers[0].cache_control == "no-store" and s.headers[0].meta == {"team": "ops"}


@pytest.mark.parametrize("extra, line", [
    ({"PLUGIN_CONCURRENCY": "0"}, "PLUGIN_CONCURRENCY: expected"),
    ({"PLUGIN_DELETE_MAX": "lots"}, "PLUGIN_DELETE_MAX: expected a count (100) or a percentage (50%)"),
    ({"PLUGIN_DELETE": "true", "PLUGIN_DEST": "/"}, "PLUGIN_DEST: must not be empty or /"),
    ({"PLUGIN_DEST": "a/../b"}, "PLUGIN_DEST: expected a prefix without"),
    ({"PLUGIN_ACL": "world"}, "PLUGIN_ACL: expected one of"),
    ({"PLUGIN_HEADERS": '[{"glob": "*", "cache": "x"}]'}, "PLUGIN_HEADERS[0].cache: expected no such key"),
    ({"PLUGIN_CDN_REFRESH": "files"}, "PLUGIN_CDN_URL: required"),
    ({"PLUGIN_PART_SIZE": "1KB"}, "PLUGIN_PART_SIZE: must be between"),
    ({"PLUGIN_ENDPOINT": "ftp://x"}, "PLUGIN_ENDPOINT: expected an http:// or https:// URL"),
])
def test_bad_settings_one_line(extra, line):
    with pytest.raises(SettingsError) as err:
        load_settings(Settings, dict(SEED, **extra))
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(line), err.value.problems


def test_bad_settings_exit_2_without_secret(monkeypatch, capsys, tmp_path):
    for k, v in dict(SEED, PLUGIN_CONCURRENCY="many", DRONE_WORKSPACE=str(tmp_path)).items():
        monkeypatch.setenv(k, v)
    assert main([]) == 2
    out = capsys.readouterr()
    assert "PLUGIN_CONCURRENCY" in out.out + out.err
    assert "SENTINEL-seed-secret" not in out.out + out.err


def test_missing_source_dir_is_exit_2(monkeypatch, capsys, tmp_path):
    for k, v in dict(SEED, DRONE_WORKSPACE=str(tmp_path)).items():
        monkeypatch.setenv(k, v)
    assert main([]) == 2
    assert "PLUGIN_SOURCE: 'static_root/1.2.3' is not a directory" in capsys.readouterr().out
