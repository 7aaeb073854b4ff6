"""version-bump on real git repositories: a bare remote with lightweight and annotated tags, a Drone-style
tag clone that holds only its own tag, full clones for non-tag builds; run as the console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin" / "version-bump"
SENTINEL = "SENTINEL-pw-7d1f"


CLOCK = iter(range(1_700_000_000, 1_800_000_000, 60))  # commits and tags a minute apart, never a tie


def git(cwd: Path, *args: str) -> str:
    when = f"@{next(CLOCK)} +0000"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def commit(repo: Path, message: str, files: dict[str, str] | None = None) -> str:
    for name, text in (files or {}).items():
        (repo / name).write_text(text)
        git(repo, "add", name)
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def tag(repo: Path, name: str, annotated: bool) -> None:
    git(repo, "tag", *(["-a", "-m", f"release {name}"] if annotated else []), name)


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> Path:
    """A bare remote: main has v1.0.0 (annotated), v1.1.0 (lightweight), v2.0.0 (annotated), then feat/fix
    commits; branch hotfix-1.1 from v1.1.0 has v1.1.1 (lightweight); plus tags that are not versions."""
    base = tmp_path_factory.mktemp("vb-remote")
    dev = base / "dev"
    dev.mkdir()
    git(dev, "init", "-q", "-b", "main")
    commit(dev, "feat: first", {"VERSION": "1.0.0\n"})
    tag(dev, "v1.0.0", annotated=True)
    commit(dev, "feat: export", {"VERSION": "1.1.0\n"})
    tag(dev, "v1.1.0", annotated=False)
    git(dev, "branch", "hotfix-1.1")
    commit(dev, "feat!: new config format", {"VERSION": "2.0.0\n"})
    tag(dev, "v2.0.0", annotated=True)
    tag(dev, "latest-build", annotated=False)
    tag(dev, "v2.0", annotated=False)
    commit(dev, "fix: crash on empty input")
    commit(dev, "feat(api): paging")
    commit(dev, "docs: readme")
    git(dev, "checkout", "-q", "hotfix-1.1")
    commit(dev, "fix: security fix", {"VERSION": "1.1.0\n"})
    tag(dev, "v1.1.1", annotated=False)
    commit(dev, "fix: second fix")
    tag(dev, "v1.1.2-rc.1", annotated=True)
    bare = base / "remote.git"
    git(base, "clone", "-q", "--bare", str(dev), str(bare))
    return bare


def drone_tag_clone(remote: Path, dest: Path, tag_name: str) -> Path:
    """What drone-git's clone-tag does: only +refs/tags/<tag>: is fetched, HEAD detached, no local tags."""
    dest.mkdir()
    git(dest, "init", "-q")
    git(dest, "remote", "add", "origin", str(remote))
    git(dest, "fetch", "-q", "origin", f"+refs/tags/{tag_name}:")
    git(dest, "checkout", "-qf", "FETCH_HEAD")
    assert git(dest, "tag") == ""
    return dest


def full_clone(remote: Path, dest: Path, branch: str = "main") -> Path:
    git(dest.parent, "clone", "-q", "-b", branch, str(remote), str(dest))
    return dest


def run(ws: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ["PATH"], "HOME": str(ws.parent), "GIT_CONFIG_NOSYSTEM": "1",
            "DRONE": "true", "DRONE_WORKSPACE": str(ws), **env}
    return subprocess.run([str(BIN)], env=full, capture_output=True, text=True, timeout=120)


def tag_env(name: str) -> dict[str, str]:
    return {"DRONE_TAG": name, "DRONE_COMMIT_REF": f"refs/tags/{name}", "DRONE_BUILD_EVENT": "tag"}


def result(ws: Path) -> dict:
    return json.loads((ws / ".tagship" / "version-bump.json").read_text())


def sourced(ws: Path) -> dict[str, str]:
    out = subprocess.run(["sh", "-c", "set -a && . ./.tagship/version.env && env"], cwd=ws, capture_output=True,
                         text=True, check=True, env={}).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_tag_clone_fetches_the_other_tags_and_keeps_floating_tags_on_the_highest(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.1")
    proc = run(ws, **tag_env("v1.1.1"), DRONE_SEMVER="1.1.1")
    assert proc.returncode == 0, proc.stdout
    # 1.1.1 is the highest stable 1.x (1.1.2-rc.1 is a pre-release): 1.1 and 1 move to it; latest stays
    # on 2.0.0, which only the fetched tags reveal
    assert (ws / ".tags").read_text() == "1.1.1,1.1,1"
    assert (ws / ".version").read_text() == "1.1.1\n"
    env = sourced(ws)
    assert {k: env[k] for k in ("VERSION", "VERSION_MAJOR", "VERSION_MINOR", "VERSION_PATCH", "IS_PRERELEASE",
                                "VERSION_PRERELEASE", "DOCKER_TAGS", "PREVIOUS_VERSION")} == {
        "VERSION": "1.1.1", "VERSION_MAJOR": "1", "VERSION_MINOR": "1", "VERSION_PATCH": "1",
        "IS_PRERELEASE": "false", "VERSION_PRERELEASE": "", "DOCKER_TAGS": "1.1.1,1.1,1", "PREVIOUS_VERSION": "1.1.0"}
    data = result(ws)
    assert data["status"] == "success" and data["tags"] == ["1.1.1", "1.1", "1"] and data["releases"] == 5
    assert "a rebuild: v1.1.1 already points at this commit; v1.1.2-rc.1 came later" in proc.stdout
    assert "ignored 2 tag(s) that are not semver versions" in proc.stdout and "latest-build" in proc.stdout
    assert "DRONE_SEMVER" not in proc.stdout  # it agrees: no warning


def test_without_fetching_the_tag_clone_cannot_know_better(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.1")
    proc = run(ws, **tag_env("v1.1.1"), PLUGIN_FETCH_TAGS="false")
    assert proc.returncode == 0, proc.stdout
    assert (ws / ".tags").read_text() == "1.1.1,1.1,1,latest"


def test_rebuild_of_an_annotated_tag_on_its_own_commit(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v2.0.0")
    proc = run(ws, **tag_env("v2.0.0"), PLUGIN_REQUIRE_INCREASE="global")
    assert proc.returncode == 0, proc.stdout
    assert (ws / ".tags").read_text() == "2.0.0,2.0,2,latest"


def test_prerelease_tag_gets_only_its_version(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.2-rc.1")
    proc = run(ws, **tag_env("v1.1.2-rc.1"), PLUGIN_EXTRA_TAGS="edge")
    assert proc.returncode == 0, proc.stdout
    assert (ws / ".tags").read_text() == "1.1.2-rc.1,edge"
    assert sourced(ws)["IS_PRERELEASE"] == "true" and sourced(ws)["VERSION_PRERELEASE"] == "rc.1"


def test_guard_refuses_a_lower_version_naming_both(remote, tmp_path):
    dev = full_clone(remote, tmp_path / "dev", "hotfix-1.1")
    commit(dev, "fix: late")
    tag(dev, "v1.1.0-hotfix", annotated=False)  # 1.1.0-hotfix < 1.1.1 on the 1.1 line
    git(dev, "push", "-q", "origin", "v1.1.0-hotfix")
    try:
        ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.0-hotfix")
        proc = run(ws, **tag_env("v1.1.0-hotfix"))
    finally:
        git(dev, "push", "-q", "origin", ":refs/tags/v1.1.0-hotfix")
    assert proc.returncode == 1
    assert "1.1.0-hotfix is lower than 1.1.2-rc.1 (v1.1.2-rc.1, the highest release of 1.1.x)" in proc.stdout
    assert not (ws / ".tags").exists() and not (ws / ".version").exists()
    assert result(ws)["status"] == "failed"
    assert "Traceback" not in proc.stdout + proc.stderr


def test_guard_global_and_already_released_on_another_commit(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.1")
    proc = run(ws, **tag_env("v1.1.1"), PLUGIN_REQUIRE_INCREASE="global")
    assert proc.returncode == 1
    assert "1.1.1 is lower than 2.0.0 (v2.0.0, the highest release); require_increase: global" in proc.stdout
    ws2 = full_clone(remote, tmp_path / "ws2")  # main's HEAD is not the commit of v2.0.0
    proc = run(ws2, PLUGIN_VERSION="2.0.0")
    assert proc.returncode == 1
    assert "2.0.0 is already released as v2.0.0 on commit" in proc.stdout
    assert run(ws2, PLUGIN_VERSION="2.0.0", PLUGIN_REQUIRE_INCREASE="off").returncode == 0


def test_branch_build_bumps_from_conventional_commits(remote, tmp_path):
    ws = full_clone(remote, tmp_path / "ws")
    out_file = tmp_path / "drone-output.env"
    proc = run(ws, DRONE_BUILD_EVENT="push", DRONE_BRANCH="main", DRONE_OUTPUT=str(out_file))
    assert proc.returncode == 0, proc.stdout
    # since v2.0.0: fix + feat + docs → minor
    assert (ws / ".version").read_text() == "2.1.0\n"
    assert "v2.0.0 + bump: auto → minor: 3 commit(s) (1 minor, 1 patch)" in proc.stdout
    assert (ws / ".tags").read_text() == "2.1.0,2.1,2,latest"
    assert "VERSION=2.1.0\n" in out_file.read_text() and "DOCKER_TAGS=2.1.0,2.1,2,latest\n" in out_file.read_text()


def test_branch_build_as_prerelease(remote, tmp_path):
    ws = full_clone(remote, tmp_path / "ws")
    proc = run(ws, PLUGIN_BUMP="patch", PLUGIN_AS_PRERELEASE="true", PLUGIN_PRERELEASE_TOKEN="beta")
    assert proc.returncode == 0, proc.stdout
    assert (ws / ".tags").read_text() == "2.0.1-beta.1"


def test_shallow_clone_deepens_to_count_commits(remote, tmp_path):
    ws = tmp_path / "ws"
    git(tmp_path, "clone", "-q", "--depth=1", "-b", "main", f"file://{remote}", str(ws))
    proc = run(ws)
    assert proc.returncode == 0, proc.stdout
    assert (ws / ".version").read_text() == "2.1.0\n"


def test_pep440_scheme(tmp_path):
    repo = tmp_path / "ws"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "first")
    tag(repo, "v0.9.0", annotated=True)
    commit(repo, "second")
    tag(repo, "v1.0.0rc1", annotated=False)
    proc = run(repo, **tag_env("v1.0.0rc1"), PLUGIN_SCHEME="pep440")
    assert proc.returncode == 0, proc.stdout
    assert (repo / ".tags").read_text() == "1.0.0rc1"
    assert "the repository has no remote: checking against the local tags only" in proc.stdout
    proc = run(repo, **tag_env("v1.0.0rc1"))  # SemVer does not accept it
    assert proc.returncode == 1
    assert "tag v1.0.0rc1: 1.0.0rc1 is not SemVer 2.0.0" in proc.stdout


def test_tag_that_is_not_semver_fails_with_the_rule(tmp_path):
    repo = tmp_path / "ws"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "first")
    proc = run(repo, **tag_env("v1.2"))
    assert proc.returncode == 1
    assert "tag v1.2: 1.2 is not SemVer 2.0.0: it needs MAJOR.MINOR.PATCH" in proc.stdout


FILES = {
    "pyproject.toml": '[project]\nname = "svc"\nversion = "1.1.0"\ndependencies = ["lib==1.1.0"]\n',
    "package.json": '{\n  "name": "svc",\n  "version": "1.1.0",\n  "dependencies": {"x": "1.1.0"}\n}\n',
    "VERSION": "1.1.0\n",
    "version.go": 'package version\n\nconst Version = "1.1.0"\n',
}


def files_repo(remote: Path, tmp_path: Path) -> Path:
    dev = full_clone(remote, tmp_path / "dev", "hotfix-1.1")
    commit(dev, "chore: files", FILES)
    tag(dev, "v1.1.3", annotated=True)
    git(dev, "push", "-q", "origin", "v1.1.3")
    return dev


def test_files_are_written_on_a_tag_build(remote, tmp_path):
    files_repo(remote, tmp_path)
    try:
        ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.3")
        rules = json.dumps(["pyproject.toml", "package.json", "VERSION", "version.go"])
        proc = run(ws, **tag_env("v1.1.3"), PLUGIN_FILES=rules, PLUGIN_CURRENT_VERSION="1.1.0")
    finally:
        git(tmp_path / "dev", "push", "-q", "origin", ":refs/tags/v1.1.3")
    assert proc.returncode == 0, proc.stdout
    assert (ws / "pyproject.toml").read_text() == FILES["pyproject.toml"].replace('version = "1.1.0"',
                                                                                 'version = "1.1.3"')
    assert json.loads((ws / "package.json").read_text())["version"] == "1.1.3"
    assert json.loads((ws / "package.json").read_text())["dependencies"] == {"x": "1.1.0"}
    assert (ws / "VERSION").read_text() == "1.1.3\n"
    assert 'const Version = "1.1.3"' in (ws / "version.go").read_text()
    assert [f["changed"] for f in result(ws)["files"]] == [True, True, True, True]


def test_files_all_or_nothing(remote, tmp_path):
    files_repo(remote, tmp_path)
    try:
        ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.3")
        rules = json.dumps(["pyproject.toml", "VERSION",
                            {"path": "version.go", "search": 'Version = "{current_version}-dev"'}])
        proc = run(ws, **tag_env("v1.1.3"), PLUGIN_FILES=rules, PLUGIN_CURRENT_VERSION="1.1.0")
    finally:
        git(tmp_path / "dev", "push", "-q", "origin", ":refs/tags/v1.1.3")
    assert proc.returncode == 1
    assert "files: no file was changed, because version.go: 'Version = \"1.1.0-dev\"' is not in the file" \
        in proc.stdout
    assert git(ws, "status", "--porcelain") == "?? .tagship/"
    assert not (ws / ".version").exists()


def test_dry_run_writes_nothing(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.1")
    proc = run(ws, **tag_env("v1.1.1"), PLUGIN_DRY_RUN="true", PLUGIN_FILES="VERSION")
    assert proc.returncode == 0, proc.stdout
    assert "docker tags: 1.1.1, 1.1, 1" in proc.stdout and "VERSION: 1.1.0 → 1.1.1" in proc.stdout
    assert "dry run: no file written" in proc.stdout
    assert git(ws, "status", "--porcelain", "--ignored") == ""


def test_drone_semver_disagreement_is_a_warning(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.1")
    proc = run(ws, **tag_env("v1.1.1"), DRONE_SEMVER="1.1.1", PLUGIN_VERSION="1.1.5")
    assert proc.returncode == 0, proc.stdout
    assert "WARN  DRONE_SEMVER is 1.1.1 but the version is 1.1.5" in proc.stdout


def test_bad_settings_exit_2_with_one_line(tmp_path):
    proc = run(tmp_path, PLUGIN_REQUIRE_INCREASE="strict")
    assert proc.returncode == 2
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and "PLUGIN_REQUIRE_INCREASE: expected one of" in lines[0]
    proc = run(tmp_path, PLUGIN_VERSION="1.2")
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1
    assert lines[0].endswith("PLUGIN_VERSION: 1.2 is not SemVer 2.0.0: it needs MAJOR.MINOR.PATCH")


def test_remote_credentials_never_printed(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.1")
    git(ws, "remote", "set-url", "origin", f"http://ci:{SENTINEL}@127.0.0.1:9/repo.git")  # nothing listens
    proc = run(ws, **tag_env("v1.1.1"), DRONE_NETRC_PASSWORD="SENTINEL-netrc-91c2")
    assert proc.returncode == 1
    assert "git fetch" in proc.stdout and "hint: the step needs read access to origin" in proc.stdout
    text = proc.stdout + proc.stderr + (ws / ".tagship" / "version-bump.json").read_text()
    assert SENTINEL not in text and "SENTINEL-netrc" not in text
    assert "127.0.0.1:9" in text  # the error is still actionable


def test_workspace_owned_by_another_uid(remote, tmp_path):
    """Drone's clone step may run as another user than the plugin: git would refuse "dubious ownership"."""
    if os.geteuid() != 0:
        pytest.fail("this test bed runs the tests as root (chown needs it)")
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.1")
    subprocess.run(["chown", "-R", "12345:12345", str(ws)], check=True)
    assert subprocess.run(["git", "tag"], cwd=ws, capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}).returncode != 0
    proc = run(ws, **tag_env("v1.1.1"))
    assert proc.returncode == 0, proc.stdout
    assert (ws / ".tags").read_text() == "1.1.1,1.1,1"


def test_monorepo_prefix_counts_only_its_own_tags(tmp_path):
    repo = tmp_path / "ws"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "feat: api")
    tag(repo, "api/v1.0.0", annotated=True)
    tag(repo, "web/v3.0.0", annotated=True)  # another component: must not hold back api's latest
    commit(repo, "fix(api): x")
    tag(repo, "api/v1.0.1", annotated=False)
    proc = run(repo, **tag_env("api/v1.0.1"), PLUGIN_TAG_PREFIX="api/v")
    assert proc.returncode == 0, proc.stdout
    assert (repo / ".tags").read_text() == "1.0.1,1.0,1,latest"
    proc = run(repo, PLUGIN_TAG_PREFIX="web/v", PLUGIN_BUMP="minor")
    assert proc.returncode == 0, proc.stdout
    assert (repo / ".version").read_text() == "3.1.0\n"


def test_woodpecker_tag_build(remote, tmp_path):
    ws = drone_tag_clone(remote, tmp_path / "ws", "v1.1.1")
    full = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "CI": "woodpecker",
            "CI_WORKSPACE": str(ws), "CI_COMMIT_TAG": "v1.1.1", "CI_COMMIT_REF": "refs/tags/v1.1.1",
            "CI_PIPELINE_EVENT": "tag"}
    proc = subprocess.run([str(BIN)], cwd=tmp_path, env=full, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert (ws / ".tags").read_text() == "1.1.1,1.1,1"


def test_not_a_git_repository_with_a_version_setting(tmp_path):
    proc = run(tmp_path, PLUGIN_VERSION="1.4.0-beta.2")
    assert proc.returncode == 0, proc.stdout
    assert "is not a git repository" in proc.stdout
    assert (tmp_path / ".tags").read_text() == "1.4.0-beta.2"
    proc = run(tmp_path)
    assert proc.returncode == 1
    assert "no version: this is not a tag build, PLUGIN_VERSION is not set" in proc.stdout


def test_a_step_that_cannot_write_the_workspace_says_so(remote):
    """Drone clones as root; a plugin image running as another uid must fail early and say why."""
    base = Path(tempfile.mkdtemp(prefix="vb-perm-"))  # pytest's tmp_path is not traversable by uid 1000
    try:
        base.chmod(0o755)
        ws = drone_tag_clone(remote, base / "ws", "v1.1.1")  # owned by root, like Drone's clone
        env = {"PATH": os.environ["PATH"], "HOME": "/tmp", "DRONE_WORKSPACE": str(ws), **tag_env("v1.1.1")}
        setpriv = ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups", str(BIN)]
        proc = subprocess.run(setpriv, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1
        assert f"{ws} is not writable by this step (uid 1000; owned by uid 0)" in proc.stdout
        assert "hint: run the step as the workspace's owner" in proc.stdout
        proc = subprocess.run(setpriv, env={**env, "PLUGIN_DRY_RUN": "true"}, capture_output=True, text=True)
        assert proc.returncode == 1  # a dry run still fetches tags into .git
        assert f"{ws}/.git is not writable by this step" in proc.stdout
        base.chmod(0o700)
        proc = subprocess.run(setpriv, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and f"the workspace {ws} cannot be read by this step" in proc.stdout
        assert "internal error" not in proc.stdout
    finally:
        shutil.rmtree(base)
