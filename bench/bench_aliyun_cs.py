"""cs-deploy (aliyun-cs) against the seed's deploy tool, on the same local doubles, side by side in one run.

The baseline is the call sequence of aliyun_cs_tools 0.2 (research/cs-deploy.md §2; the package itself is
Python 2 only and no longer installs): DescribeClusterDetail, DescribeClusterCerts, ``GET /projects/{name}``,
then ``POST /projects/{name}/update`` with the stored template and the merged env — and success on HTTP 202.
Re-created here with the same SDK and requests, run as a subprocess exactly like ``cs-deploy``.

For a good release and a broken one (the double fails it after the rollout delay), each tool runs as a step;
we record the exit code, the wall time and the project's state when the step ended.

Run: .venv/bin/python bench/bench_aliyun_cs.py [rounds] [rollout-delay-seconds]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

AK, SECRET = "LTAI-bench", "bench-secret"
COMPOSE = "services:\n  web:\n    image: registry.example/cmdb-api:${VERSION}\n"


def baseline() -> int:
    """aliyun_cs_tools 0.2's update_project_config, as the seed's deploy.py ran it."""
    import requests

    from tagship import aliyun

    env = os.environ
    client = aliyun.openapi_client(env["ALIYUN_ACCESS_KEY_ID"], env["ALIYUN_ACCESS_KEY_SECRET"], env["REGION"])
    master, certs = aliyun.cluster_master(client, env["CLUSTER_ID"], region=env["REGION"],
                                          api_endpoint=env["API_ENDPOINT"])
    with tempfile.TemporaryDirectory() as tmp:
        for k, v in certs.items():
            Path(tmp, f"{k}.pem").write_text(v)
        s = requests.Session()
        s.cert, verify = (f"{tmp}/cert.pem", f"{tmp}/key.pem"), f"{tmp}/ca.pem"
        name = env["PROJECT_NAME"]
        info = s.get(f"{master}/projects/{name}", verify=verify).json()
        merged = dict(info.get("environment") or {}, VERSION=env["VERSION"])
        for k in ("COMPOSE_PROJECT_NAME", "ACS_PROJECT_VERSION"):
            merged.pop(k, None)
        r = s.post(f"{master}/projects/{name}/update", verify=verify,
                   json={"version": env["VERSION"], "template": info["template"], "environment": merged})
        return 0 if r.status_code == 202 else 1


def run_step(kind: str, api_url: str, workspace: Path, version: str) -> tuple[int, float]:
    env = {"PATH": os.environ["PATH"], "HOME": str(workspace), "DRONE_WORKSPACE": str(workspace),
           "ALIYUN_ACCESS_KEY_ID": AK, "ALIYUN_ACCESS_KEY_SECRET": SECRET, "REGION": "cn-beijing",
           "CLUSTER_ID": "c-bench", "PROJECT_NAME": "cmdb", "VERSION": version, "API_ENDPOINT": api_url,
           "PLUGIN_BACKEND": "aliyun-cs", "PLUGIN_API_ENDPOINT": api_url, "PLUGIN_POLL_INTERVAL": "0.2",
           "PLUGIN_MONITOR": "1s", "PLUGIN_TIMEOUT": "60s", "PYTHONPATH": str(ROOT / "tests")}
    cmd = ([sys.executable, __file__, "--baseline"] if kind == "baseline"
           else [str(Path(sys.executable).parent / "cs-deploy")])
    start = time.perf_counter()
    code = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return code, time.perf_counter() - start


def look(master, version: str) -> str:
    p = master._view(master.projects["cmdb"])
    serving = "new" if p["version"] == version else "previous" if "rollback" in p["version"] else p["version"]
    return f"{p['current_state']} {serving}"


def main() -> None:
    from doubles.aliyun_openapi import AliyunOpenApiDouble
    from doubles.cs_master import CsMasterDouble

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    rows: dict[tuple[str, str], list[tuple[int, float, str]]] = {}
    with CsMasterDouble(delay=delay) as master, AliyunOpenApiDouble(keys={AK: SECRET}) as api:
        api.add_cluster("c-bench", master.url, master.certs)
        ws = Path(tempfile.mkdtemp(prefix="bench-cs-"))
        (ws / "docker-compose.yml").write_text(COMPOSE)
        n = 0
        for _ in range(rounds):
            for kind in ("baseline", "tagship"):
                for release in ("good", "broken"):
                    n += 1
                    master.projects.clear()
                    master.delay = 0.0
                    run_step("tagship", api.url, ws, f"0.{n}.0")           # the running release to update
                    master.delay = delay
                    version = f"1.{n}.0" + ("-broken" if release == "broken" else "")
                    if release == "broken":
                        master.fail_versions.add(version)
                    code, seconds = run_step(kind, api.url, ws, version)
                    at_end = look(master, version)
                    time.sleep(delay + 0.3)                                # let the double settle, look again
                    rows.setdefault((kind, release), []).append((code, seconds, f"{at_end} -> {look(master, version)}"))
    print(f"rollout delay of the double: {delay:.1f}s, {rounds} rounds; project: at the step's end -> settled")
    print(f"{'tool':<10} {'release':<8} {'exit codes':<12} {'median s':>9}  {'step verdict':<14} project state")
    for (kind, release), values in rows.items():
        codes = sorted({c for c, _, _ in values})
        verdict = "green" if codes == [0] else "red" if 0 not in codes else "mixed"
        right = (verdict == "green") == (release == "good")
        states = ", ".join(sorted({s for _, _, s in values}))
        print(f"{kind:<10} {release:<8} {str(codes):<12} {statistics.median(s for _, s, _ in values):>9.2f}  "
              f"{verdict + (' (right)' if right else ' (WRONG)'):<14} {states}")
    print(json.dumps({f"{k}/{r}": [round(s, 2) for _, s, _ in v] for (k, r), v in rows.items()}))


if __name__ == "__main__":
    if "--baseline" in sys.argv:
        sys.exit(baseline())
    main()
