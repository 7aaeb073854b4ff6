"""The seeded settings fuzz (issue 11): random and malformed ``PLUGIN_*`` values, their aliases and other
spellings, and ``DRONE_*`` values, for each of the four plugins, with sentinel secrets in every secret
setting (and under secret-looking names in maps), with and without ``PLUGIN_DEBUG``.

Every run must keep the contract: an exit code of 0/1/2/78, no traceback and no internal error, every
output line a stamped log line or a summary row (a value cannot forge or split a line, no raw control
character), every exit-2 error naming a variable, and no sentinel in stdout, stderr, the result file or
the card.

Deterministic: hypothesis with a fixed seed (``TAGSHIP_FUZZ_SEED``, default 20261211), no example
database, ``TAGSHIP_FUZZ_EXAMPLES`` runs per plugin in process (default 100) plus a few as real
subprocesses. Hosts are loopback only (a closed port), so nothing leaves the machine and nothing waits:
the Docker engine is ``tcp://127.0.0.1:9``, retries are off, and settings that start a daemon are not fuzzed.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings, strategies as st

from tagship import deadline, log, mask
from tagship.settings import env_names, is_secret

SEED = int(os.environ.get("TAGSHIP_FUZZ_SEED") or 20261211)
EXAMPLES = int(os.environ.get("TAGSHIP_FUZZ_EXAMPLES") or 100)
SUBPROCESS_EXAMPLES = max(2, EXAMPLES // 20)
CLOSED = "127.0.0.1:9"
SENTINEL = "SNTL"
CODES: dict[str, int] = {}  # how deep the runs got (pytest -s prints it)

PLUGINS = {
    "version-bump": ("version_bump", {"DRONE_TAG": "v1.2.3"}),
    "oss-push": ("oss_push", {"PLUGIN_ENDPOINT": f"http://{CLOSED}", "PLUGIN_BUCKET": "site",
                              "PLUGIN_ACCESS_KEY_ID": "SNTLid000001", "PLUGIN_ACCESS_KEY_SECRET": "SNTLsk000001",
                              "PLUGIN_CDN_ENDPOINT": f"http://{CLOSED}"}),
    "registry-push": ("registry_push", {"PLUGIN_REPO": f"{CLOSED}/fuzz/app",
                                        "PLUGIN_API_ENDPOINT": f"http://{CLOSED}"}),
    "cs-deploy": ("cs_deploy", {"PLUGIN_STACK": "fuzz", "PLUGIN_API_ENDPOINT": f"http://{CLOSED}"}),
}
# fixed: retries off (a refused connection must not back off for seconds), no daemon started
FIXED = {"PLUGIN_MAX_RETRIES": "0", "PLUGIN_PUSH_ATTEMPTS": "1", "DOCKER_HOST": f"tcp://{CLOSED}",
         "PLUGIN_DEADLINE": "20s", "PLUGIN_DAEMON": "host", "PLUGIN_FETCH_TAGS": "false"}
NOT_FUZZED = {"max_retries", "push_attempts", "daemon", "dockerd_path", "dockerd_args", "storage_path",
              "mirror", "storage_driver", "mtu", "daemon_timeout", "fetch_tags"}
# settings whose values name a host: only loopback (or malformed) addresses, never a name to resolve
HOSTISH = re.compile(r"endpoint|host|url|registry|repo|registries|cache_from|namespace|project|module|region")
LOOPBACK = [f"http://{CLOSED}", CLOSED, f"HTTP://{CLOSED}", "http://127.0.0.1:99999", "://", "", " ",
            f"tcp://{CLOSED}", f"https://{CLOSED}/path", "[::1]:9", "ftp://127.0.0.1", "127.0.0.1:0",
            "unix:///nonexistent/docker.sock", "tcp://", "x" * 300, f"{CLOSED}/fuzz/app", "http://[::1",
            "http://u:p@127.0.0.1:9", "127.0.0.1:9\nforged", "127.0.0.1:9/a b", "aliyun", "cn-shanghai",
            "CN SHANGHAI", "fuzz/app", "-", "a" * 64, f"[{{\"registry\":\"{CLOSED}\",\"repo\":\"x\"}}]",
            "[" * 3000]
SPECIAL = ["", " ", "0", "-1", "1", "nan", "inf", "-inf", "1e400", "²", "٣٤", "9" * 5000, "true", "false",
           "yes", "null", "[]", "{}", '{"a":1}', "[" * 3000, '{"a":' * 200, "../x", "/etc/hostname", "/", ".",
           ".tagship", "x" * 100_000, f"x\n2026-01-01T00:00:00Z ERROR forged", "\x1b[31mred", "a\rb",
           "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----", "1h", "0s", "500ms", "1e-9",
           "99999999999999999999", '{"K":"v",}', "K=v,X=1", "a,b,c", "[1,2]", '[{"glob":"*"}]', "[NaN]",
           '{"x": Infinity}', "v1.2.3", "1.2.3-rc.1", "0.000001", "\u2028", "é", "\udcff\udcfe"]


def _plain(text: str) -> str:
    return text.replace("\x00", "")  # the environment cannot hold NUL


TEXT = st.text(max_size=30).map(_plain)
BYTES = st.binary(max_size=24).map(lambda b: _plain(b.decode("utf-8", "surrogateescape")))
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                       lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids,
                                                                                  max_size=3),
                       max_leaves=8).map(json.dumps)
VALUE = st.one_of(st.sampled_from(SPECIAL), TEXT, BYTES, JSONISH)
SECRET = st.builds(lambda core: SENTINEL + core,
                   st.text(alphabet="abcdef0123456789\n\"\\ é\udcff'%+/=", min_size=6, max_size=16))


def _spellings(name: str) -> list[str]:
    """Other ways a runner may write the same variable: lower case, Woodpecker's - and . forms."""
    return [name, name.lower(), name.replace("_", "-", 2) if name.count("_") > 1 else name.lower()]


def _fields(module: str):
    settings_mod = __import__(f"{module}.settings", fromlist=["Settings"])
    cls = settings_mod.Settings
    return cls, [(n, f) for n, f in cls.model_fields.items() if n not in NOT_FUZZED]


@st.composite
def environments(draw, plugin: str):
    module, base = PLUGINS[plugin]
    cls, fields = _fields(module)
    env = dict(base)
    for name, field in draw(st.lists(st.sampled_from(fields), max_size=6, unique_by=lambda nf: nf[0])):
        var = draw(st.sampled_from(env_names(name, field)))
        var = draw(st.sampled_from(_spellings(var)))
        if is_secret(field):
            value = draw(st.one_of(SECRET, SECRET, st.sampled_from(["", "a", "ab", "abc"])))
        elif HOSTISH.search(name):
            value = draw(st.sampled_from(LOOPBACK))
        else:
            value = draw(VALUE)
        env[var] = value
        if draw(st.integers(0, 9)) == 0:  # the same setting spelled twice, maybe with another value
            env[draw(st.sampled_from(_spellings(var)[1:]))] = draw(st.sampled_from([value, "other"]))
    if draw(st.booleans()):  # secrets inside maps, under secret-looking names
        secret = draw(SECRET)
        env.update({"cs-deploy": {"PLUGIN_ENVIRONMENT": json.dumps({"DB_PASSWORD": secret, "X": "1"})},
                    "registry-push": {"PLUGIN_BUILD_ARGS": json.dumps({"NPM_TOKEN": secret})},
                    "oss-push": {"PLUGIN_SECURITY_TOKEN": secret},
                    "version-bump": {}}[plugin])
    if draw(st.booleans()):
        env["PLUGIN_DEBUG"] = draw(st.sampled_from(["true", "false", "1"]))
    if draw(st.integers(0, 2)) == 0:  # a typo of a setting
        env["PLUGIN_" + draw(st.sampled_from(fields))[0].upper()[:-1]] = draw(VALUE)
    for var in draw(st.lists(st.sampled_from(["DRONE_BUILD_CREATED", "DRONE_TAG", "DRONE_COMMIT_SHA",
                                              "DRONE_BRANCH", "DRONE_BUILD_EVENT", "DRONE_COMMIT_REF",
                                              "DRONE_SEMVER", "DRONE_STEP_NAME", "DRONE_BUILD_NUMBER"]),
                             max_size=3, unique=True)):
        env[var] = draw(VALUE)
    env.update(FIXED)  # never fuzzed
    return env


COMPOSE = """services:
  web:
    image: 127.0.0.1:9/fuzz/app:1.0.0
    environment:
      DB_PASSWORD: ${DB_PASSWORD:-none}
      MODE: ${X:-prod}
"""
LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO |NOTE |WARN |ERROR|DEBUG|OK   ) |── |   )")
NAMED = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*( and [A-Za-z_][A-Za-z0-9_.-]*)*[\[.:]|^could not read the build "
                   r"context")


def check(plugin: str, env: dict[str, str], code: int, out: str, ws: Path) -> None:
    debug = env.get("PLUGIN_DEBUG") in ("true", "1")
    where = f"{plugin} exit {code}, env {sorted(env)!r}"
    CODES[f"{plugin} exit {code}"] = CODES.get(f"{plugin} exit {code}", 0) + 1
    assert code in (0, 1, 2, 78), f"{where}\n{out[-3000:]}"
    assert "internal error" not in out, f"{where}\n{out[-3000:]}"
    if not debug:
        assert "Traceback" not in out, f"{where}\n{out[-3000:]}"
    assert SENTINEL not in out, f"sentinel in the output: {where}\n{out[-3000:]}"
    for line in out.splitlines():
        assert LINE.match(line), f"not a log line: {line[:200]!r} ({where})"
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\ud800-\udfff]", line), \
            f"raw control character: {line[:200]!r} ({where})"
    if code == 2:
        errors = [line.split(" ERROR ", 1)[1] for line in out.splitlines() if " ERROR " in line[:30]]
        assert errors, f"{where}\n{out[-3000:]}"
        for error in errors:
            assert NAMED.match(error), f"an exit-2 line must name the variable: {error[:200]!r} ({where})"
    for path in [*ws.glob(".tagship/*.json"), ws / "card.json"]:
        if path.is_file():
            text = path.read_text()
            json.loads(text)
            assert SENTINEL not in text, f"sentinel in {path.name}: {where}"


_TEMPLATE: dict[str, Path] = {}


def _git_repo(ws: Path) -> None:
    """A one-commit git repository in ``ws`` (copied from one made once per session)."""
    if "git" not in _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="tagship-fuzz-git-")) / ".git"
        repo = template.parent
        shutil.copy(ws / "docker-compose.yml", repo)
        git = ["git", "-c", "user.name=fuzz", "-c", "user.email=fuzz@example.invalid", "-C", str(repo)]
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
            subprocess.run(git + args, check=True, stdin=subprocess.DEVNULL, capture_output=True,
                           env={"PATH": os.environ.get("PATH", ""), "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1"})
        _TEMPLATE["git"] = template
        atexit.register(shutil.rmtree, repo, True)
    shutil.copytree(_TEMPLATE["git"], ws / ".git")


@contextlib.contextmanager
def sandbox(env: dict[str, str], git: bool = False):
    """A fresh workspace and TMPDIR; os.environ holds only ``env`` (and PATH/HOME) meanwhile."""
    root = Path(tempfile.mkdtemp(prefix="tagship-fuzz-"))
    ws, tmp = root / "ws", root / "tmp"
    ws.mkdir()
    tmp.mkdir()
    # enough of a project that valid settings get past their files to the (closed) network
    (ws / "docker-compose.yml").write_text(COMPOSE)
    (ws / "Dockerfile").write_text("FROM scratch\nCOPY docker-compose.yml /\n")
    if git:
        _git_repo(ws)
    saved, saved_tmp = dict(os.environ), tempfile.tempdir
    try:
        os.environ.clear()
        os.environ.update({k: saved[k] for k in ("PATH", "HOME", "LANG") if k in saved})
        os.environ.update(env)
        os.environ.update({"DRONE_WORKSPACE": str(ws), "TMPDIR": str(tmp), "DRONE_CARD_PATH": str(ws / "card.json")})
        tempfile.tempdir = str(tmp)
        yield ws, tmp
    finally:
        os.environ.clear()
        os.environ.update(saved)
        tempfile.tempdir = saved_tmp
        shutil.rmtree(root, ignore_errors=True)


def run_in_process(plugin: str, env: dict[str, str]) -> None:
    module = PLUGINS[plugin][0]
    main = __import__(f"{module}.__main__", fromlist=["main"]).main
    with sandbox(env, git=plugin == "version-bump") as (ws, tmp):
        buf = io.StringIO()
        mask.MASKER.clear()
        log.configure(stream=buf)
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                code = main([])
        finally:
            log.configure()
            deadline.start(None)
            mask.MASKER.clear()
        check(plugin, env, code, buf.getvalue(), ws)
        assert not list(tmp.glob("cs-deploy-tls-*")), "TLS files left behind"


FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False, print_blob=True,
                suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("plugin", list(PLUGINS))
def test_settings_fuzz_in_process(plugin):
    @seed(SEED)
    @FUZZ
    @given(environments(plugin))
    def fuzz(env):
        run_in_process(plugin, env)

    fuzz()
    print(f"\n{plugin}: {EXAMPLES} examples, seed {SEED}:",
          ", ".join(f"{k.split(' ', 1)[1]}: {v}" for k, v in sorted(CODES.items()) if k.startswith(plugin + " ")))


@pytest.mark.parametrize("plugin", list(PLUGINS))
def test_settings_fuzz_as_subprocess(plugin):
    module = PLUGINS[plugin][0]

    @seed(SEED + 1)
    @settings(FUZZ, max_examples=SUBPROCESS_EXAMPLES)
    @given(environments(plugin))
    def fuzz(env):
        with sandbox(env, git=plugin == "version-bump") as (ws, tmp):
            environ = dict(os.environ)
            proc = subprocess.run([sys.executable, "-m", module], env=environ, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=120,
                                  encoding="utf-8", errors="surrogateescape")
            check(plugin, env, proc.returncode, proc.stdout + proc.stderr, ws)

    fuzz()
