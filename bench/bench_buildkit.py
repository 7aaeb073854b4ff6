"""BuildKit vs the classic builder on the same context, side by side on the test bed's engine.

Both builders run through Debian's 20.10 docker CLI (``DOCKER_BUILDKIT=0`` / ``1``), the one registry-push
uses; each round gets contexts with fresh bytes so neither profits from the other's cache. Scenarios:

  cold      a context nobody has built: FROM the local busybox, COPY a <size> MB file, RUN over it, COPY app
  warm      the same context again, nothing changed
  app       only the app file changed (the big layer stays cached)
  deps      the dependency list grows by one package: the classic builder downloads every package again in
            its RUN layer; BuildKit keeps the downloads in a cache mount (RUN --mount=type=cache) and fetches
            only the new one. Packages come from a local HTTP server that counts the bytes it serves.

    .venv/bin/python bench/bench_buildkit.py [--rounds 3] [--size-mb 24] [--packages 6] [--package-mb 4]

Prints median seconds per builder and classic ÷ BuildKit (above 1: BuildKit is faster), and MB downloaded in
the deps scenario. The images are removed afterwards; the cache mounts (an id per run) are left to BuildKit's
own garbage collection (no global prune on a shared engine).
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

CLI = "/usr/bin/docker"
BASE = os.environ.get("TAGSHIP_BUSYBOX_IMAGE", "tagship/busybox:latest")


class _Counting(http.server.SimpleHTTPRequestHandler):
    served = 0
    lock = threading.Lock()

    def log_message(self, *args):   # quiet
        pass

    def copyfile(self, source, outputfile):
        data = source.read()
        outputfile.write(data)
        with _Counting.lock:
            _Counting.served += len(data)


def package_server(root: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = lambda *a, **kw: _Counting(*a, directory=str(root), **kw)   # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def dockerfile(builder: str, port: int, mount_id: str) -> str:
    fetch = (f"for p in $(cat /deps.txt); do wget -q -O /opt/pkgs/$p http://127.0.0.1:{port}/$p; done"
             if builder == "classic" else
             f"for p in $(cat /deps.txt); do [ -f /cache/$p ] || wget -q -O /cache/$p http://127.0.0.1:{port}/$p; "
             "cp /cache/$p /opt/pkgs/$p; done")
    mount = "" if builder == "classic" else f"--mount=type=cache,id={mount_id},target=/cache "
    return f"""FROM {BASE}
COPY big.bin /opt/big.bin
RUN sha256sum /opt/big.bin > /opt/big.sha256
COPY deps.txt /deps.txt
RUN {mount}mkdir -p /opt/pkgs && {fetch}
COPY app.txt /opt/app.txt
USER worker
"""


def build(builder: str, ctx: Path, tag: str) -> float:
    env = {**os.environ, "DOCKER_BUILDKIT": "1" if builder == "buildkit" else "0"}
    cmd = [CLI, "build", "-q", "--network", "host", "-t", tag, str(ctx)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    took = time.perf_counter() - t0
    if res.returncode:
        raise SystemExit(f"{builder} build failed: {res.stderr[-1500:]}")
    return took


def one_round(builder: str, work: Path, port: int, size_mb: int, packages: int, tags: list[str]) -> dict[str, float]:
    uid = uuid.uuid4().hex[:10]
    ctx = work / f"{builder}-{uid}"
    ctx.mkdir()
    (ctx / "big.bin").write_bytes(os.urandom(size_mb << 20))
    (ctx / "deps.txt").write_text("\n".join(f"pkg{i}.bin" for i in range(packages)) + "\n")
    (ctx / "app.txt").write_text(uid)
    (ctx / "Dockerfile").write_text(dockerfile(builder, port, f"tsbench-{uid}"))
    tag = f"tagship-bench/buildkit-{builder}:{uid}"
    tags.append(tag)
    out = {"cold": build(builder, ctx, tag), "warm": build(builder, ctx, tag)}
    (ctx / "app.txt").write_text(uid + "-2")
    out["app"] = build(builder, ctx, tag)
    before = _Counting.served
    (ctx / "deps.txt").write_text("\n".join(f"pkg{i}.bin" for i in range(packages + 1)) + "\n")
    out["deps"] = build(builder, ctx, tag)
    out["deps_mb"] = (_Counting.served - before) / (1 << 20)
    shutil.rmtree(ctx, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size-mb", type=int, default=24)
    ap.add_argument("--packages", type=int, default=6)
    ap.add_argument("--package-mb", type=int, default=4)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tagship-bench-bk-"))
    pkgs = work / "pkgs"
    pkgs.mkdir()
    for i in range(args.packages + 1):
        (pkgs / f"pkg{i}.bin").write_bytes(os.urandom(args.package_mb << 20))
    server, port = package_server(pkgs)
    tags: list[str] = []
    results: dict[str, list[dict[str, float]]] = {"classic": [], "buildkit": []}
    try:
        for r in range(args.rounds):
            order = ["classic", "buildkit"] if r % 2 == 0 else ["buildkit", "classic"]   # nobody always first
            for builder in order:
                results[builder].append(one_round(builder, work, port, args.size_mb, args.packages, tags))
    finally:
        server.shutdown()
        for tag in tags:
            subprocess.run([CLI, "image", "rm", "-f", tag], capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)
    med = {b: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for b, rs in results.items()}
    print(f"BuildKit vs classic ({CLI}, {args.size_mb} MB layer, {args.packages}+1 packages of "
          f"{args.package_mb} MB, median of {args.rounds})")
    print(f"| scenario | classic | BuildKit | classic ÷ BuildKit |\n|---|---|---|---|")
    for key in ("cold", "warm", "app", "deps"):
        c, b = med["classic"][key], med["buildkit"][key]
        print(f"| {key} | {c:.2f} s | {b:.2f} s | {c / b:.2f}× |")
    print(f"| deps: downloaded | {med['classic']['deps_mb']:.0f} MB | {med['buildkit']['deps_mb']:.0f} MB | |")


if __name__ == "__main__":
    main()
