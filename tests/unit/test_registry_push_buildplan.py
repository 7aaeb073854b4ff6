"""registry-push's build decisions (builder choice, build secrets, the CLI argv, CACHED counting) and the
build-secret proof over both ``docker save`` layouts (legacy ``<id>/layer.tar`` and Docker 25's OCI blobs)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from registry_push import buildplan
from registry_push.buildplan import BuildSecret
from registry_push.policy import check, gather
from tagship.errors import PluginError

SENTINEL = "SENTINEL-bk-secret-91ad"


@pytest.mark.parametrize("secrets,from_env,from_file,want", [
    (["id=npm,env=NPM_TOKEN"], [], [], [BuildSecret("npm", env="NPM_TOKEN")]),
    (["id=a,src=conf/a.txt", "id=b,env=B"], [], [], [BuildSecret("a", file="conf/a.txt"), BuildSecret("b", env="B")]),
    (["id=a,src=conf/a.txt,id=b,env=B"], [], [], [BuildSecret("a", file="conf/a.txt"), BuildSecret("b", env="B")]),
    ([], ["tok=API_TOKEN"], ["key=.keys/k"], [BuildSecret("tok", env="API_TOKEN"), BuildSecret("key", file=".keys/k")]),
    (["id=x,type=file,source=f"], [], [], [BuildSecret("x", file="f")]),
])
def test_build_secrets_in_every_form(secrets, from_env, from_file, want):
    assert buildplan.parse_secrets(secrets, from_env, from_file) == want


@pytest.mark.parametrize("secrets,from_env,var", [
    (["id=a"], [], "PLUGIN_SECRETS"),
    (["id=a,env=A,src=f"], [], "PLUGIN_SECRETS"),
    (["id=a,env=A,mode=0400"], [], "PLUGIN_SECRETS"),
    (["id=a b,env=A"], [], "PLUGIN_SECRETS"),
    (["id=a,env=A"], ["a=B"], "PLUGIN_SECRETS"),          # the same id twice
    ([], ["JUSTAVAR"], "PLUGIN_SECRETS_FROM_ENV"),
])
def test_bad_build_secrets_name_the_variable(secrets, from_env, var):
    with pytest.raises(ValueError, match=var):
        buildplan.parse_secrets(secrets, from_env, [])


@pytest.mark.parametrize("setting,engine_ok,cli,needs,want", [
    ("auto", True, "/usr/bin/docker", "", "buildkit"),
    ("auto", False, "/usr/bin/docker", "", "classic"),
    ("auto", True, None, "", "classic"),
    ("buildkit", True, "/usr/bin/docker", "", "buildkit"),
    ("classic", True, "/usr/bin/docker", "", "classic"),
    ("buildkit", True, None, "", RuntimeError),
    ("auto", True, None, "the Dockerfile uses RUN --mount", RuntimeError),
    ("classic", True, "/usr/bin/docker", "build secrets are set", ValueError),
])
def test_builder_choice(setting, engine_ok, cli, needs, want):
    if isinstance(want, type):
        with pytest.raises(want):
            buildplan.choose_builder(setting, engine_ok=engine_ok, cli=cli, needs=needs)
        return
    builder, notice = buildplan.choose_builder(setting, engine_ok=engine_ok, cli=cli, needs=needs)
    assert builder == want
    assert bool(notice) == (setting == "auto" and want == "classic")


@pytest.mark.parametrize("text,why", [
    ("FROM x\nRUN make\n", ""),
    ("FROM x\nRUN --mount=type=cache,target=/root/.cache pip install .\n", "RUN --mount"),
    ("FROM x\nRUN --network=none --mount=type=secret,id=a true\n", "RUN --mount"),
    ("# syntax=docker/dockerfile:1.4\nFROM x\n", "# syntax="),
    ("FROM x\n# RUN --mount is only a comment here\n", ""),
])
def test_what_needs_buildkit(text, why):
    got = buildplan.needs_buildkit(text)
    assert (why in got) if why else got == ""


def test_the_cli_gets_build_arg_names_never_their_values():
    cmd = buildplan.cli_args("/usr/bin/docker", context="/ws", dockerfile="/ws/Dockerfile", tag="t:1",
                             iidfile="/p/iid", arg_names=["API_TOKEN", "VERSION"], labels={"a": "b"},
                             target="app", platform="linux/amd64", cache_from=["r/x:1"], pull=True,
                             nocache=False, extra_hosts=["db:10.0.0.2"], secrets=[("tok", "/p/s0")],
                             ssh_sock="/p/agent.sock")
    assert cmd[:2] == ["/usr/bin/docker", "build"] and cmd[-1] == "/ws"
    pairs = list(zip(cmd, cmd[1:]))
    for pair in [("--build-arg", "API_TOKEN"), ("--build-arg", "VERSION"), ("--secret", "id=tok,src=/p/s0"),
                 ("--ssh", "default=/p/agent.sock"), ("--cache-from", "r/x:1"), ("--target", "app"),
                 ("--platform", "linux/amd64"), ("--add-host", "db:10.0.0.2"), ("--label", "a=b"),
                 ("--iidfile", "/p/iid")]:
        assert pair in pairs
    assert "--pull" in cmd and "--no-cache" not in cmd and not any("=" in c and "API_TOKEN=" in c for c in cmd)


def test_cached_steps_are_counted_from_the_plain_progress():
    lines = ["#1 [internal] load build definition from Dockerfile", "#1 DONE 0.0s",
             "#4 [stage-0 1/4] FROM docker.io/library/busybox", "#4 CACHED",
             "#5 [stage-0 2/4] COPY app.conf /etc/app.conf", "#5 CACHED",
             "#6 [stage-0 3/4] RUN make", "#6 0.2 building", "#6 DONE 1.0s",
             "#7 [4/4] RUN --mount=type=cache,target=/c true", "#7 CACHED", "#8 exporting to image"]
    assert buildplan.count_steps(lines) == (2, 3)
    assert buildplan.count_classic(["Step 1/3 : FROM x", " ---> Using cache", "Step 2/3 : RUN a",
                                    " ---> Using cache", "Step 3/3 : RUN b"]) == (2, 3)


def test_the_needles_are_the_values_and_the_key_body_lines():
    key = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n"
           "c2gtZWQy\n-----END OPENSSH PRIVATE KEY-----\n")
    assert buildplan.needles(["abc", SENTINEL, SENTINEL], key) == [
        SENTINEL, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz"]


# --- the proof over docker save ---------------------------------------------------------------------------

def _layer(files: dict[str, bytes], link: tuple[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)
    return buf.getvalue()


def _save(layers: list[bytes], oci: bool, gz: bool = False, drop: int | None = None) -> bytes:
    buf = io.BytesIO()
    names = []
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        config = json.dumps({"config": {}}).encode()
        add(f"blobs/sha256/{hashlib.sha256(config).hexdigest()}" if oci else "cfg.json", config)
        for i, data in enumerate(layers):
            data = gzip.compress(data) if gz else data
            name = f"blobs/sha256/{hashlib.sha256(data).hexdigest()}" if oci else f"l{i}/layer.tar"
            names.append(name)
            if i != drop:
                add(name, data)
        add("manifest.json", json.dumps([{"Config": "cfg.json", "Layers": names}]).encode())
    return buf.getvalue()


class _Client:
    def __init__(self, saved: bytes, env=(), labels=None, history=("",)):
        self.saved, self.env, self.labels, self._history = saved, list(env), labels or {}, history

    def inspect_image(self, image):
        return {"Config": {"User": "worker", "Env": self.env, "Labels": self.labels}}

    def history(self, image):
        return [{"CreatedBy": h} for h in self._history]

    def get_image(self, image):
        data = self.saved
        return iter([data[i:i + 1000] for i in range(0, len(data), 1000)])   # small chunks: needles straddle


@pytest.mark.parametrize("oci,gz", [(False, False), (True, False), (True, True)])
def test_a_secret_in_any_layer_is_found_in_both_save_layouts(oci, gz):
    clean = _layer({"etc/app.conf": b"x" * 5000})
    leak_content = _layer({"srv/pad": b"p" * 777, "srv/copy": b"token=" + SENTINEL.encode()})
    leak_name = _layer({}, link=("srv/link", f"/run/{SENTINEL}"))   # only a symlink's target holds it
    for layers, hit in (([clean], []), ([clean, leak_content], ["layer 2"]), ([leak_name, clean], ["layer 1"])):
        facts = gather(_Client(_save(layers, oci, gz)), "img", "FROM x\n", [SENTINEL])
        assert facts.leaks == hit and len(facts.layers) == len(layers)
        assert [f.rule for f in check(facts) if f.rule == "build-secret"] == ["build-secret"] * len(hit)


def test_a_secret_in_history_labels_or_env_is_found():
    saved = _save([_layer({"a": b"a"})], oci=True)
    assert gather(_Client(saved, env=[f"X={SENTINEL}"]), "i", "", [SENTINEL]).leaks == ["the image env", "the image config"]
    assert "the image labels" in gather(_Client(saved, labels={"x": SENTINEL}), "i", "", [SENTINEL]).leaks
    assert "the image history" in gather(_Client(saved, history=(f"RUN echo {SENTINEL}",)), "i", "", [SENTINEL]).leaks


def test_a_layer_that_could_not_be_read_fails_the_proof():
    with pytest.raises(PluginError, match="could not be read"):
        gather(_Client(_save([_layer({"a": b"a"}), _layer({"b": b"b"})], oci=True, drop=1)), "i", "", [SENTINEL])


def test_a_fetch_through_ssh_forwarding_is_not_a_no_fetch_finding():
    from registry_push.policy import dockerfile_fetches

    assert dockerfile_fetches("FROM x\nRUN --mount=type=ssh git clone ssh://git@h/r.git /src\n") == []
    assert dockerfile_fetches("FROM x\nRUN --mount=type=cache,target=/c git clone https://h/r.git /s\n") != []
