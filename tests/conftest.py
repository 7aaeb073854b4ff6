"""Fixtures shared by every test: the real-service test bed (scripts/testbed.sh) and a Drone workspace.

The test bed is not optional. A test that needs it (marked ``engine`` or asking for one of the fixtures
below) FAILS with "run `make testbed`" when it is not up; nothing here skips, so CI cannot go green by
quietly not running the integration tests.

Fixtures
    testbed            session  Testbed: registry/registry2 hosts, user/password(2), ca, cert_dir, dir, env
    docker_client      session  docker.from_env() (the SDK is imported only when asked for)
    busybox_image      session  "tagship/busybox:latest" (busybox-static + root/worker users), checked to exist
    python_base_image  session  "tagship/python-base:latest" (debootstrap minbase + python3), checked to exist
    swarm              session  the engine's swarm info; fails unless the node is an active manager
    tmp_workspace      function a tmp dir used as the Drone workspace; DRONE_WORKSPACE points there
"""
from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HINT = "run `make testbed` (bash scripts/testbed.sh up) first"


def testbed_dir() -> Path:
    return Path(os.environ.get("TAGSHIP_TESTBED_DIR") or ROOT / ".testbed")


def read_env_file(path: Path) -> dict[str, str]:
    """The test bed's env file: `export KEY=value` (or `KEY=value`) lines, # comments."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip("'\"")
    return out


@dataclass(frozen=True)
class Testbed:
    __test__ = False  # not a test class, whatever its name

    registry: str            # host:port of registry A (TLS + htpasswd), e.g. localhost:5443
    registry2: str           # host:port of registry B (TLS + htpasswd, its own password)
    user: str
    password: str = field(repr=False)
    user2: str = ""
    password2: str = field(default="", repr=False)
    ca: str = ""             # CA certificate (PEM) that signed both registries' certificate
    cert_dir: str = ""       # a directory holding only ca.crt (skopeo --cert-dir, docker certs.d style)
    dir: str = ""            # .testbed
    busybox_image: str = "tagship/busybox:latest"
    python_base_image: str = "tagship/python-base:latest"
    env: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, key: str) -> str:  # tb["TAGSHIP_REGISTRY"]: the raw env file
        return self.env[key]

    def auth(self, second: bool = False) -> dict[str, str]:
        """auth_config for the docker SDK."""
        return {"username": self.user2 if second else self.user,
                "password": self.password2 if second else self.password}


def _registry_status(host: str, ca: str, user: str, password: str) -> str:
    """'ok' when GET /v2/ with the credentials answers 200 over TLS checked against the CA."""
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(f"https://{host}/v2/")
    req.add_header("Authorization", "Basic " + b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return "ok" if resp.status == 200 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"
    except (OSError, ssl.SSLError) as e:
        return f"{type(e).__name__}: {e}"


@pytest.fixture(scope="session")
def testbed() -> Testbed:
    env_file = testbed_dir() / "env"
    if not env_file.is_file():
        pytest.fail(f"the test bed is not up: {env_file} is missing; {HINT}", pytrace=False)
    env = read_env_file(env_file)
    try:
        tb = Testbed(
            registry=env["TAGSHIP_REGISTRY"], registry2=env["TAGSHIP_REGISTRY2"],
            user=env["TAGSHIP_REGISTRY_USER"], password=env["TAGSHIP_REGISTRY_PASSWORD"],
            user2=env.get("TAGSHIP_REGISTRY2_USER", env["TAGSHIP_REGISTRY_USER"]),
            password2=env.get("TAGSHIP_REGISTRY2_PASSWORD", env["TAGSHIP_REGISTRY_PASSWORD"]),
            ca=env["TAGSHIP_REGISTRY_CA"], cert_dir=env["TAGSHIP_REGISTRY_CERT_DIR"],
            dir=env.get("TAGSHIP_TESTBED_DIR", str(testbed_dir())),
            busybox_image=env.get("TAGSHIP_BUSYBOX_IMAGE", "tagship/busybox:latest"),
            python_base_image=env.get("TAGSHIP_PYTHON_BASE_IMAGE", "tagship/python-base:latest"),
            env=env,
        )
    except KeyError as e:
        pytest.fail(f"{env_file} lacks {e.args[0]} (an older test bed?); {HINT}", pytrace=False)
    for host, user, pw in ((tb.registry, tb.user, tb.password), (tb.registry2, tb.user2, tb.password2)):
        status = _registry_status(host, tb.ca, user, pw)
        if status != "ok":
            pytest.fail(f"the test bed's registry {host} is not answering ({status}); {HINT}", pytrace=False)
    return tb


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker  # lazily: unit tests must not need the SDK
    except ImportError:
        pytest.fail("the docker SDK is not installed: pip install -e '.[dev]' (make venv)", pytrace=False)
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as e:  # noqa: BLE001 — any failure to reach the engine means the same thing
        pytest.fail(f"the Docker engine is not answering ({type(e).__name__}: {e}); {HINT}", pytrace=False)
    yield client
    client.close()


def _require_image(client, name: str) -> str:
    import docker.errors

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        pytest.fail(f"base image {name} is missing; {HINT}", pytrace=False)
    return name


@pytest.fixture(scope="session")
def busybox_image(testbed, docker_client) -> str:
    return _require_image(docker_client, testbed.busybox_image)


@pytest.fixture(scope="session")
def python_base_image(testbed, docker_client) -> str:
    return _require_image(docker_client, testbed.python_base_image)


@pytest.fixture(scope="session")
def swarm(docker_client) -> dict:
    info = docker_client.info().get("Swarm") or {}
    if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
        pytest.fail(f"the engine is not an active swarm manager (state {info.get('LocalNodeState')!r}); {HINT}",
                    pytrace=False)
    return info


@pytest.fixture
def tmp_workspace(tmp_path, monkeypatch) -> Path:
    ws = tmp_path / "workspace"
    ws.mkdir()
    monkeypatch.setenv("DRONE_WORKSPACE", str(ws))
    return ws


@pytest.fixture(autouse=True)
def _engine_tests_need_the_testbed(request):
    """Tests marked `engine` or `e2e` fail (never skip) when the test bed is not up."""
    if any(request.node.get_closest_marker(m) is not None for m in ("engine", "e2e")):
        request.getfixturevalue("testbed")
