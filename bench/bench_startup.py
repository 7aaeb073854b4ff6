"""Start-up time of each plugin's `--help` and of a bad-settings run, against `python -c pass`.

Run: .venv/bin/python bench/bench_startup.py [rounds]
Measured with the standard library only (subprocess + time.perf_counter), interleaved rounds in one
process so machine noise hits the baseline and the plugins alike; prints medians and ratios.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

PLUGINS = ["version-bump", "oss-push", "registry-push", "cs-deploy"]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    bindir = os.path.dirname(sys.executable)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
    bad = {**env, "PLUGIN_DRY_RUN": "perhaps"}
    cases = {"python -c pass": ([sys.executable, "-c", "pass"], env)}
    for name in PLUGINS:
        cases[f"{name} --help"] = ([os.path.join(bindir, name), "--help"], env)
        cases[f"{name} (bad settings)"] = ([os.path.join(bindir, name)], bad)
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for label, (cmd, e) in cases.items():
            samples[label].append(timed(cmd, e))
    base = statistics.median(samples["python -c pass"])
    print(f"{'command':<30} {'median ms':>10} {'x python -c pass':>17}")
    for label, values in samples.items():
        med = statistics.median(values)
        print(f"{label:<30} {med * 1000:>10.1f} {med / base:>17.2f}")


if __name__ == "__main__":
    main()
