"""Benchmark: oss-push against two baselines, side by side, in one run, on one local OSS endpoint.

    .venv/bin/python bench/bench_oss_push.py [--files 2000] [--big-mb 48] [--concurrency 16]

A tree of 2,000 files (about 120 MB: 1,998 small ones of 2-30 KB plus two 48 MB files) is generated in a
temp dir. ``tagship oss-server`` runs as a separate process (so the client and the server do not share a
GIL), and each contender uploads the same tree under its own prefix:

* ``sequential``: an oss2 ``put_object_from_file`` loop, as drone-s3 and most OSS plugins do;
* ``parallel``: oss2 ``put_object_from_file`` in a ThreadPoolExecutor at the same concurrency, with a shared
  Session sized to it (no plan, no verify, no retries, no manifest);
* ``oss-push``: the plugin (plan, Content-MD5, CRC64, multipart for the two big files, verify listing,
  manifest), run in this process through its entry point;
* ``oss-push rerun``: the same step again: nothing changed, so nothing is sent.

``--latency MS`` (default 20) makes the server wait before each answer, as a network round trip to OSS
would; ``--latency 0`` measures bare loopback, where the machine's CPUs (shared by client and server) are the
limit and parallelism gains little.

Request counts come from the server's counters. This is not a test; it prints a table and ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

AK, SECRET = "LTAIbench", "bench-secret-not-real"
BUCKET = "bench"


def make_tree(root: Path, files: int, big_mb: int) -> tuple[int, int]:
    rng = random.Random(42)
    total = 0
    for i in range(files - 2):
        size = rng.randint(2_000, 30_000)
        path = root / f"d{i % 40:02d}" / f"asset-{i:04d}.{rng.choice(['js', 'css', 'png', 'svg', 'json'])}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        total += size
    for name in ("media/video-a.bin", "media/video-b.bin"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(os.urandom(big_mb * 1_000_000))
        total += big_mb * 1_000_000
    return files, total


def start_server(data: Path, latency_ms: float = 0) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).with_name("tagship")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "tagship.pipeline.cli"]
    proc = subprocess.Popen(cmd + ["oss-server", "--port", "0", "--data", str(data), "--access-key-id", AK,
                                   "--bucket", BUCKET, "--latency", str(latency_ms)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "TAGSHIP_OSS_ACCESS_KEY_SECRET": SECRET})
    return proc, proc.stdout.readline().strip()


def control(endpoint: str, name: str, post: bool = False) -> dict:
    req = urllib.request.Request(f"{endpoint}/_tagship/{name}", data=b"{}" if post else None,
                                 method="POST" if post else "GET")
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
    return json.loads(body) if body else {}


def files_of(root: Path) -> list[tuple[str, str]]:
    return sorted((str(p.relative_to(root)), str(p)) for p in root.rglob("*") if p.is_file())


def sequential(endpoint: str, root: Path, prefix: str, concurrency: int) -> None:
    import oss2

    bucket = oss2.Bucket(oss2.Auth(AK, SECRET), endpoint, BUCKET)
    for rel, path in files_of(root):
        bucket.put_object_from_file(f"{prefix}/{rel}", path)


def parallel(endpoint: str, root: Path, prefix: str, concurrency: int) -> None:
    import oss2

    bucket = oss2.Bucket(oss2.Auth(AK, SECRET), endpoint, BUCKET, session=oss2.Session(pool_size=concurrency))
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda f: bucket.put_object_from_file(f"{prefix}/{f[0]}", f[1]), files_of(root)))


EXTRA: dict[str, str] = {}


def oss_push(endpoint: str, root: Path, prefix: str, concurrency: int) -> None:
    from oss_push.__main__ import main

    env = {"PLUGIN_ENDPOINT": endpoint, "PLUGIN_BUCKET": BUCKET, "PLUGIN_ACCESS_KEY_ID": AK,
           "PLUGIN_ACCESS_KEY_SECRET": SECRET, "PLUGIN_SOURCE": str(root), "PLUGIN_DEST": prefix,
           "PLUGIN_CONCURRENCY": str(concurrency), "DRONE_WORKSPACE": str(root.parent / "ws"), **EXTRA}
    (root.parent / "ws").mkdir(exist_ok=True)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main([])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if code != 0:
        raise SystemExit(f"oss-push failed ({code}):\n{out.getvalue()[-3000:]}")


def measure(name: str, fn, endpoint: str, root: Path, prefix: str, concurrency: int) -> dict:
    control(endpoint, "reset-stats", post=True)
    t0 = time.perf_counter()
    fn(endpoint, root, prefix, concurrency)
    seconds = time.perf_counter() - t0
    stats = control(endpoint, "stats")
    return {"name": name, "seconds": seconds, "requests": stats["requests"], "mb_in": stats["bytes_in"] / 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--big-mb", type=int, default=48)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=20, metavar="MS",
                    help="server-side delay per answer, standing in for the network round trip to OSS "
                         "(default 20 ms; 0 = bare loopback, where the 2 shared CPUs are the bottleneck)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an oss-push setting for the experiment, e.g. --set multipart_threshold=64MiB")
    args = ap.parse_args()
    for item in args.set:
        key, _, value = item.partition("=")
        EXTRA[f"PLUGIN_{key.upper()}"] = value

    tmp = Path(tempfile.mkdtemp(prefix="tagship-bench-oss-"))
    server = None
    try:
        root = tmp / "static"
        count, total = make_tree(root, args.files, args.big_mb)
        server, endpoint = start_server(tmp / "oss-data", args.latency)
        for _, path in files_of(root):  # warm the page cache for everyone alike
            Path(path).read_bytes()
        print(f"tree: {count} files, {total / 1e6:.1f} MB (two of {args.big_mb} MB); concurrency "
              f"{args.concurrency}; server {endpoint} (separate process, {args.latency:g} ms per answer); "
              f"{os.cpu_count()} CPUs", flush=True)
        rows = [measure("sequential oss2 put_object", sequential, endpoint, root, "seq", args.concurrency),
                measure(f"parallel oss2 put_object x{args.concurrency}", parallel, endpoint, root, "par",
                        args.concurrency),
                measure("oss-push", oss_push, endpoint, root, "push", args.concurrency),
                measure("oss-push rerun (no change)", oss_push, endpoint, root, "push", args.concurrency)]
        seq, par, push = rows[0]["seconds"], rows[1]["seconds"], rows[2]["seconds"]
        print(f"\n{'contender':34} {'seconds':>8} {'requests':>9} {'MB sent':>8} {'MB/s':>7} "
              f"{'vs seq':>7} {'vs par':>7}")
        for r in rows:
            mbps = r["mb_in"] / r["seconds"] if r["seconds"] else 0
            print(f"{r['name']:34} {r['seconds']:8.2f} {r['requests']:9d} {r['mb_in']:8.1f} {mbps:7.1f} "
                  f"{seq / r['seconds']:6.2f}x {par / r['seconds']:6.2f}x")
        print(f"\noss-push is {seq / push:.2f}x the sequential loop and {par / push:.2f}x the bare parallel "
              f"client; its no-op rerun sends {rows[3]['requests']} requests in {rows[3]['seconds']:.2f}s "
              f"({push / rows[3]['seconds']:.0f}x faster than the first run, {seq / rows[3]['seconds']:.0f}x "
              f"faster than re-uploading sequentially).")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
