"""tagship exec on the real engine, with command steps only (no plugin needed): what a user trying a pipeline
locally relies on — order, when:, stop at the first failure with its exit code, the workspace at /drone/src,
the tag context and substitution, from_secret values masked."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine]

BIN = Path(sys.executable).parent
SENTINEL = "SENTINEL-pw-7d1f"

PIPELINE = """
kind: pipeline
type: docker
name: try
trigger:
  event: [tag]
steps:
- name: context
  image: tagship/busybox:latest
  environment:
    PASSWORD: {from_secret: db_password}
    VERSION: ${DRONE_TAG##v}
  commands:
  - echo "version=$${VERSION} event=$${DRONE_BUILD_EVENT} semver=$${DRONE_SEMVER_MAJOR} pw=$${PASSWORD}"
  - pwd
  - echo "$${VERSION}" > from-step-1.txt
- name: only-on-push
  image: tagship/busybox:latest
  commands: [echo should-not-run]
  when: {event: [push]}
- name: reads-workspace
  image: tagship/busybox:latest
  commands:
  - cat from-step-1.txt
  - exit 7
- name: after-failure
  image: tagship/busybox:latest
  commands: [echo should-not-run-either]
- name: notify-on-failure
  image: tagship/busybox:latest
  commands:
  - echo "build $${DRONE_BUILD_STATUS}"
  when: {status: [failure]}
"""


def test_exec_runs_steps_in_order_and_stops_at_the_first_failure(tmp_path):
    (tmp_path / ".drone.yml").write_text(PIPELINE)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q",
                    "--allow-empty", "-m", "init"], check=True)
    (tmp_path / "secrets.env").write_text(f"db_password={SENTINEL}\n")
    proc = subprocess.run([str(BIN / "tagship"), "exec", ".drone.yml", "--tag", "v2.3.4", "--secrets-file",
                           "secrets.env"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 7, out
    assert "[context] version=2.3.4 event=tag semver=2 pw=******" in out
    assert "[context] /drone/src" in out
    assert "[reads-workspace] 2.3.4" in out                   # steps share the workspace
    assert "[notify-on-failure] build failure" in out         # when: status: failure runs after a failure
    assert "should-not-run" not in out
    assert SENTINEL not in out
    summary = out[out.index("tagship exec: failure"):]
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in summary.splitlines()[1:] if line.strip()}
    assert rows["only-on-push"] == "skipped (when)" and rows["after-failure"] == "not run"
    assert rows["context"].startswith("ok") and rows["reads-workspace"].startswith("FAILED, exit 7")
    assert rows["notify-on-failure"].startswith("ok")


def test_exec_refuses_a_pipeline_that_does_not_run_for_the_event(tmp_path):
    (tmp_path / ".drone.yml").write_text(PIPELINE)
    proc = subprocess.run([str(BIN / "tagship"), "exec", ".drone.yml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "no pipeline in .drone.yml runs for a push event" in proc.stderr


def test_exec_names_a_missing_image(tmp_path):
    (tmp_path / ".drone.yml").write_text("kind: pipeline\nname: x\nsteps:\n- name: a\n"
                                         "  image: tagship-test/does-not-exist:1\n  commands: [true]\n")
    proc = subprocess.run([str(BIN / "tagship"), "exec"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 125
    assert "tagship-test/does-not-exist:1 is not on the local engine (tagship exec never pulls)" in proc.stdout
