"""`<plugin> --help` and a bad-settings run stay light: no heavy SDK is imported (foundation issue)."""

import json
import subprocess
import sys

import pytest

HEAVY = ["docker", "oss2", "aliyunsdkcore", "requests", "yaml", "jsonschema"]
PLUGINS = ["version_bump", "oss_push", "registry_push", "cs_deploy"]

PROBE = """
import json, sys
from {pkg}.__main__ import main
code = main({argv!r})
print("@@" + json.dumps({{"code": code, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def probe(pkg, argv, env):
    out = subprocess.run([sys.executable, "-c", PROBE.format(pkg=pkg, argv=argv, heavy=HEAVY)],
                         capture_output=True, text=True, env=env, timeout=60).stdout
    return json.loads(out.rsplit("@@", 1)[1])


@pytest.mark.parametrize("pkg", PLUGINS)
def test_help_imports_no_heavy_sdk(pkg, tmp_path):
    got = probe(pkg, ["--help"], {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert got == {"code": 0, "heavy": []}


@pytest.mark.parametrize("pkg", PLUGINS)
def test_bad_settings_exit_2_import_no_heavy_sdk(pkg, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DRONE_WORKSPACE": str(tmp_path),
           "PLUGIN_DRY_RUN": "perhaps"}
    got = probe(pkg, [], env)
    assert got == {"code": 2, "heavy": []}
