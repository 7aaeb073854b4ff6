"""version-bump against its competitors, on their own ground.

1. Speed of "next version from Conventional Commits" on one synthetic repository (COMMITS commits, a release
   tag every TAG_EVERY commits, SINCE commits after the last tag): `version-bump` (dry run) against
   python-semantic-release's `semantic-release --noop version --print`, interleaved rounds in one process,
   medians and the ratio.  PSR is not a tagship dependency: point PSR_BIN at its `semantic-release` (e.g.
   `python3 -m venv /tmp/psr && /tmp/psr/bin/pip install python-semantic-release`); without it that row
   is skipped and said so.
2. Floating tags that move backwards over a simulated release history (hotfixes of older lines,
   pre-releases), for the tag rules of the seed's pipeline (`latest` + the version), drone-docker
   `auto_tag`, docker/metadata-action (semver patterns, latest=auto) and tagship's smart floating tags —
   each rule as tagship.versions reproduces it (tests/unit/test_versions.py pins the §(b) rows).

Run: .venv/bin/python bench/bench_version_bump.py [rounds]
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tagship.versions import bump, docker_tags, parse

COMMITS, TAG_EVERY, SINCE = 3000, 15, 400
KINDS = ["feat", "fix", "perf", "docs", "chore", "refactor", "test"]


def make_repo(root: Path) -> Path:
    """A repository built with git fast-import: conventional messages, lightweight release tags."""
    repo = root / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    rng = random.Random(3)
    lines, version, stamp = [], "0.1.0", 1_700_000_000
    tagged_until = COMMITS - SINCE
    cfg = ('[project]\nname = "bench"\nversion = "0.1.0"\n[tool.semantic_release]\ntag_format = "v{version}"\n'
           'commit_parser = "conventional"\nallow_zero_version = true\n'
           '[tool.semantic_release.branches.main]\nmatch = ".*"\n')
    lines.append(f"blob\nmark :1\ndata {len(cfg.encode())}\n{cfg}\n")
    for i in range(1, COMMITS + 1):
        msg = f"{rng.choice(KINDS)}: change {i}\n\nbody of change {i}\n"
        data = msg.encode()
        lines.append(f"commit refs/heads/main\nmark :{i + 1}\ncommitter b <b@x> {stamp + i * 60} +0000\n"
                     f"data {len(data)}\n{msg}")
        if i > 1:
            lines.append(f"from :{i}\n")
        lines.append("M 100644 :1 pyproject.toml\n\n")
        if i % TAG_EVERY == 0 and i <= tagged_until:
            version = bump(version, rng.choice(["patch", "patch", "patch", "minor"]))
            lines.append(f"reset refs/tags/v{version}\nfrom :{i + 1}\n\n")
    stream = "".join(lines).encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True)
    subprocess.run(["git", "checkout", "-qf", "main"], cwd=repo, check=True)
    bare = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(bare)], cwd=repo, check=True)
    return repo


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {out.stdout[-500:]}{out.stderr[-500:]}")
    return elapsed, out.stdout


def speed(rounds: int) -> None:
    bindir = Path(sys.executable).parent
    psr = os.environ.get("PSR_BIN") or shutil.which("semantic-release")
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp))
        env = {"PATH": os.environ["PATH"], "HOME": tmp, "GIT_CONFIG_NOSYSTEM": "1"}
        cases = {"version-bump (bump: auto)": ([str(bindir / "version-bump")],
                                               {**env, "DRONE_WORKSPACE": str(repo), "PLUGIN_DRY_RUN": "true",
                                                "PLUGIN_FETCH_TAGS": "false"})}
        if psr:
            cases["semantic-release --noop version --print"] = ([psr, "--noop", "version", "--print"], env)
        samples: dict[str, list[float]] = {k: [] for k in cases}
        answers: dict[str, str] = {}
        for _ in range(rounds):
            for label, (cmd, e) in cases.items():
                elapsed, out = timed(cmd, repo, e)
                samples[label].append(elapsed)
                answers[label] = out
        ours = next(line for line in answers["version-bump (bump: auto)"].splitlines() if " version " in line)
        print(f"repository: {COMMITS} commits, a tag every {TAG_EVERY}, {SINCE} commits since the last tag; "
              f"{rounds} rounds")
        print(f"  version-bump says: {ours.split('INFO', 1)[-1].strip()}")
        if psr:
            print(f"  semantic-release says: {answers['semantic-release --noop version --print'].strip()}")
        base = statistics.median(samples["version-bump (bump: auto)"])
        print(f"{'command':<42} {'median ms':>10} {'x version-bump':>15}")
        for label, values in samples.items():
            med = statistics.median(values)
            print(f"{label:<42} {med * 1000:>10.1f} {med / base:>15.2f}")
        if not psr:
            print("semantic-release: not installed (set PSR_BIN) — speed row skipped")


def history(n: int, seed: int = 11) -> list[str]:
    """A release history: mostly the newest line, sometimes a minor/major, 20% hotfixes of an older line,
    10% pre-releases."""
    rng = random.Random(seed)
    released = ["1.0.0"]
    for _ in range(n - 1):
        stable = sorted((v for v in released if "-" not in v), key=parse)
        top = stable[-1]
        r = rng.random()
        if r < 0.2 and len({parse(v).minor for v in stable}) > 1:
            lines = sorted({(parse(v).major, parse(v).minor) for v in stable})[:-1]
            major, minor = rng.choice(lines)
            last = max((v for v in stable if (parse(v).major, parse(v).minor) == (major, minor)), key=parse)
            nxt = bump(last, "patch")
        elif r < 0.3:
            nxt = bump(top, "minor") + f"-rc.{rng.randint(1, 3)}"
        elif r < 0.45:
            nxt = bump(top, "minor")
        elif r < 0.48:
            nxt = bump(top, "major")
        else:
            nxt = bump(top, "patch")
        if nxt not in released:
            released.append(nxt)
    return released


RULES = {
    "seed pipeline (latest + version)": lambda v, rel: ([v] if "-" in v else [v, "latest"]),
    "drone-docker auto_tag": lambda v, rel: docker_tags(v, rel, floating="always", latest="never"),
    "metadata-action semver, latest=auto": lambda v, rel: docker_tags(v, rel, floating="always", latest="auto"),
    "tagship smart floating tags": lambda v, rel: docker_tags(v, rel),
}


def floating(n: int) -> None:
    releases = history(n)
    hotfixes = sum(1 for i, v in enumerate(releases) if any(parse(v) < parse(p) for p in releases[:i]))
    print(f"\nrelease history: {len(releases)} releases, {hotfixes} of them below an earlier release "
          "(hotfixes of older lines)")
    print(f"{'tag rule':<38} {'floating tags moved backwards':>30} {'releases affected':>18}")
    for name, rule in RULES.items():
        registry: dict[str, str] = {}
        moved_back, affected = 0, 0
        for i, version in enumerate(releases):
            bad = 0
            for tag in rule(version, releases[:i]):
                if tag == version.split("+")[0]:
                    continue
                if tag in registry and parse(version) < parse(registry[tag]):
                    bad += 1
                registry[tag] = version
            moved_back += bad
            affected += bool(bad)
        print(f"{name:<38} {moved_back:>30} {affected:>18}")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    speed(rounds)
    floating(300)


if __name__ == "__main__":
    main()
