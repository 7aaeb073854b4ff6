"""The plugin images as Drone runs them: entrypoint, OCI labels, users, and who writes the workspace."""

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ("version-bump", "oss-push", "registry-push", "cs-deploy")


@pytest.fixture(scope="module")
def images():
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "images.sh")], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def _inspect(image: str) -> dict:
    out = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]["Config"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_plugin_image_runs_its_command_with_labels(images, plugin):
    config = _inspect(f"tagship/{plugin}:latest")
    assert config["Entrypoint"][-1] == f"/opt/tagship/bin/{plugin}"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == f"tagship/{plugin}"
    assert labels["org.opencontainers.image.version"] and labels["org.opencontainers.image.revision"] != "unknown"
    help_text = subprocess.run(["docker", "run", "--rm", f"tagship/{plugin}", "--help"], capture_output=True,
                               text=True, timeout=60)
    assert help_text.returncode == 0 and help_text.stdout.startswith(f"{plugin} — ")
    # a bad setting: exit 2 and one line naming the variable, from inside the image
    bad = subprocess.run(["docker", "run", "--rm", "-e", "PLUGIN_DRY_RUN=perhaps", f"tagship/{plugin}"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "PLUGIN_DRY_RUN" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr


def test_only_the_socket_users_are_root_and_tools_is_not(images):
    assert _inspect("tagship/tools:latest")["User"] == "1000:1000"
    for plugin in ("registry-push", "cs-deploy"):
        assert _inspect(f"tagship/{plugin}:latest")["User"] == "root"


@pytest.mark.parametrize("owner, expected", [("0:0", "0:0"), ("1234:2345", "1234:2345")])
def test_writers_run_as_the_workspace_owner(images, tmp_path, owner, expected):
    """In Drone the workspace is root's (its clone runs as root); in a local checkout it is the user's: the
    files version-bump writes belong to whoever owns the workspace, and it can always write them."""
    uid, gid = map(int, owner.split(":"))
    os.chown(tmp_path, uid, gid)
    proc = subprocess.run(["docker", "run", "--rm", "-v", f"{tmp_path}:/drone/src", "--entrypoint",
                           "/usr/local/bin/tagship-as-workspace-owner", "tagship/version-bump",
                           "sh", "-c", "touch .version && id -u && id -g"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert ":".join(proc.stdout.split()) == expected
    st = (tmp_path / ".version").stat()
    assert f"{st.st_uid}:{st.st_gid}" == expected


def test_registry_push_ships_a_buildkit_cli_and_ssh_agent(images):
    """The image's docker CLI passes the plugin's own BuildKit probe (Debian's 20.10 CLI, not the engine), and
    ssh-agent/ssh-add are there for ssh_agent_key."""
    proc = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", "tagship/registry-push", "-c",
                           "/opt/tagship/bin/python -c 'from registry_push.buildkit import find_cli; "
                           "print(find_cli())' && command -v ssh-agent && command -v ssh-add && ! command -v dockerd"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["/usr/bin/docker", "/usr/bin/ssh-agent", "/usr/bin/ssh-add"]


LIST = r"""
import importlib.metadata as md, importlib.util, json
dist = md.distribution("tagship")
mods = sorted({f.parts[0] if len(f.parts) == 2 else "/".join(f.parts[:2]) for f in dist.files
               if f.suffix == ".py" and not str(f.parts[0]).endswith((".dist-info", ".data"))})
print(json.dumps({"tagship": mods, "dists": sorted(d.metadata["Name"].lower() for d in md.distributions())}))
"""
ROOMS = {  # the package folders of the tagship distribution each image holds
    "version-bump": ["tagship", "version_bump"],
    "oss-push": ["tagship", "oss_push"],
    "registry-push": ["tagship", "registry_push"],
    "cs-deploy": ["tagship", "cs_deploy"],
    "tools": ["cs_deploy", "oss_push", "registry_push", "tagship", "tagship/pipeline", "tagship_ossd",
              "version_bump"],
}
NOT_IN = {  # third-party distributions an image must not carry (each comes with another plugin's extra)
    "version-bump": {"docker", "oss2", "pyyaml", "jsonschema", "aliyun-python-sdk-core", "crcmod"},
    "oss-push": {"docker", "pyyaml", "jsonschema"},
    "registry-push": {"oss2", "jsonschema", "crcmod"},
    "cs-deploy": {"oss2", "crcmod"},
    "tools": {"docker", "oss2", "jsonschema", "aliyun-python-sdk-core"},
}


def _contents(image: str) -> dict:
    proc = subprocess.run(["docker", "run", "--rm", "--entrypoint", "/opt/tagship/bin/python", image, "-c", LIST],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("image", sorted(ROOMS))
def test_each_image_holds_only_its_rooms(images, image):
    """A plugin image carries the kit and its own plugin: no pipeline tools, no OSS double, no other plugin,
    and none of the other plugins' SDKs."""
    got = _contents(f"tagship/{image}:latest")
    folders = got["tagship"]
    assert folders == sorted(ROOMS[image])
    assert NOT_IN[image] & set(got["dists"]) == set()
