"""tagship exec's overhead per step, against the same containers started with bare `docker run` (baseline),
side by side in one process. Usage: .venv/bin/python bench/bench_exec.py [--rounds 5] [--steps 3]

Prints the median wall time of each and the ratio; the engine's container start dominates both."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE = "tagship/busybox:latest"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    tagship = Path(sys.executable).parent / "tagship"
    with tempfile.TemporaryDirectory(prefix="bench-exec-") as tmp:
        ws = Path(tmp)
        steps = "".join(f"- name: s{i}\n  image: {IMAGE}\n  commands: [echo step {i}, ls >/dev/null]\n"
                        for i in range(args.steps))
        (ws / ".drone.yml").write_text(f"kind: pipeline\ntype: docker\nname: b\nsteps:\n{steps}")
        subprocess.run(["git", "init", "-q", str(ws)], check=True)

        def bare() -> None:
            for i in range(args.steps):
                subprocess.run(["docker", "run", "--rm", "--network", "host", "-v", f"{ws}:/drone/src",
                                "-w", "/drone/src", "--entrypoint", "/bin/sh", IMAGE, "-c",
                                f"set -e\necho step {i}\nls >/dev/null\n"], check=True, capture_output=True)

        def exec_() -> None:
            subprocess.run([str(tagship), "exec", ".drone.yml"], cwd=ws, check=True, capture_output=True)

        times: dict[str, list[float]] = {"docker run (baseline)": [], "tagship exec": []}
        for _ in range(args.rounds):  # interleaved, so both see the same machine load
            for name, fn in (("docker run (baseline)", bare), ("tagship exec", exec_)):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    base = statistics.median(times["docker run (baseline)"])
    print(f"{args.steps} command steps, median of {args.rounds} rounds")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:<22} {med:6.2f} s   {med / args.steps:5.2f} s/step   {med / base:4.2f}x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
