"""Image policy from the seed's rules, checked on the built image before anything is pushed.

The rules (``check``, pure) run on facts gathered from the engine (``gather``): the image config, its
history, and every file of every layer (from ``docker save``), so a key added in one layer and deleted in a
later one is still caught — it is still in the pushed image.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import tarfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from tagship.errors import PluginError

from .leaks import Tee, encode, in_text, open_layer
from .plan import looks_secret

SEED_ROOT = "home/worker/main"
SEED_ENTRYPOINT = f"/{SEED_ROOT}/entrypoint.sh"
SEED_FILES = (f"{SEED_ROOT}/entrypoint.sh", f"{SEED_ROOT}/main", f"{SEED_ROOT}/conf/app.conf")
KEY_NAMES = {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".env", ".netrc", ".git-credentials", ".pgpass"}
KEY_SUFFIXES = (".pem", ".key", ".p12", ".pfx")
ACCESS_KEY = re.compile(r"\b(LTAI[0-9A-Za-z]{12,28}|AKIA[0-9A-Z]{16})\b")
PRIVATE_KEY = re.compile(rb"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----")
SKIP_SCAN = ("usr/", "lib/", "lib64/", "bin/", "sbin/", "var/lib/", "var/cache/", "etc/ssl/", "proc/", "sys/")
FETCH = re.compile(r"\bgit\s+(clone|pull)\b|\bgo\s+get\b")
SCAN_LIMIT = 64 * 1024


@dataclass
class Finding:
    rule: str
    message: str


@dataclass
class Facts:
    user: str = ""
    entrypoint: list[str] | None = None
    env: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)  # per layer: files, whiteouts, secrets, keys
    dockerfile: str = ""
    leaks: list[str] = field(default_factory=list)   # where a build secret / a line of the SSH key was found


def dockerfile_fetches(text: str) -> list[tuple[int, str]]:
    """RUN instructions that fetch code (git clone/pull, go get): the seed says never in a Dockerfile."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        start, logical = i + 1, lines[i]
        while logical.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            logical = logical.rstrip()[:-1] + " " + lines[i]
        i += 1
        stripped = logical.strip()
        # a RUN --mount=type=ssh step is how a private dependency is fetched with no key in the image
        if stripped.upper().startswith("RUN") and FETCH.search(stripped) and "--mount=type=ssh" not in stripped:
            out.append((start, " ".join(stripped.split())[:100]))
    return out


def final_files(layers: list[dict[str, Any]]) -> set[str]:
    """The file system of the last layer: layers applied in order, whiteouts honoured."""
    files: set[str] = set()
    for layer in layers:
        for gone in layer.get("whiteouts", ()):
            files = {f for f in files if f != gone and not f.startswith(gone + "/")}
        for opaque in layer.get("opaque", ()):
            files = {f for f in files if not f.startswith(opaque + "/")}
        files |= set(layer.get("files", ()))
    return files


def check(facts: Facts, layout: str = "none") -> list[Finding]:
    out: list[Finding] = [Finding("build-secret", f"{where} holds a build secret or a line of the SSH key "
                                                  "(use RUN --mount=type=secret without copying it out)")
                          for where in facts.leaks]
    user = (facts.user or "").strip()
    if user in ("", "root", "0") or user.split(":")[0] in ("root", "0"):
        out.append(Finding("non-root", f"the image runs as {user or 'root (no USER)'}; add a USER (the seed "
                                       "runs as worker)"))
    if layout == "seed":
        if facts.entrypoint != [SEED_ENTRYPOINT]:
            out.append(Finding("seed-layout", f"ENTRYPOINT is {facts.entrypoint}, the seed's is "
                                              f"[\"{SEED_ENTRYPOINT}\"]"))
        have = final_files(facts.layers)
        missing = [f"/{f}" for f in SEED_FILES if f not in have]
        if missing:
            out.append(Finding("seed-layout", "missing " + ", ".join(missing)))
    for n, layer in enumerate(facts.layers, 1):
        for path in layer.get("keys", ()):
            out.append(Finding("secret-file", f"layer {n} holds /{path} (still in the image even if a later "
                                              "layer deletes it)"))
        for path, what in layer.get("secrets", ()):
            out.append(Finding("secret-value", f"layer {n}: /{path} contains {what}"))
    for item in facts.env:
        name, _, value = item.partition("=")
        if value and (looks_secret(name) or ACCESS_KEY.search(value)):
            out.append(Finding("secret-value", f"ENV {name} holds a secret-looking value; pass it at run time"))
    for name, value in (facts.labels or {}).items():
        if value and ((looks_secret(name) and not name.startswith("org.opencontainers.")) or ACCESS_KEY.search(value)):
            out.append(Finding("secret-value", f"LABEL {name} holds a secret-looking value"))
    for step in facts.history:
        args = re.match(r"^(?:RUN )?\|\d+ (.*?) (/bin/sh -c|\[)", step or "")   # classic | BuildKit
        names = [kv.split("=", 1)[0] for kv in (args.group(1).split() if args else []) if "=" in kv]
        leaked = [n for n in names if looks_secret(n)]
        if leaked or ACCESS_KEY.search(step or ""):
            what = f"build arg {', '.join(leaked)}" if leaked else "an AccessKey-like string"
            out.append(Finding("secret-history", f"image history records {what} (docker history shows it); "
                                                 "use build secrets instead"))
    for line, text in dockerfile_fetches(facts.dockerfile):
        out.append(Finding("no-fetch", f"Dockerfile line {line} fetches code at build time: {text}"))
    unique: list[Finding] = []
    for f in out:
        if f not in unique:
            unique.append(f)
    return unique


# --- gathering (I/O) ----------------------------------------------------------------------------------------

class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of bytes chunks (the ``docker save`` stream)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._it: Iterator[bytes] = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


def scan_layer(fileobj: Any, needles: list[bytes] | None = None) -> dict[str, Any]:
    """One layer's files, whiteouts, key files and AccessKeys; with ``needles``, also which of them occur
    anywhere in the layer's bytes (``found``)."""
    files, whiteouts, opaque, keys, secrets = [], [], [], [], []
    tee = Tee(fileobj, needles or [])
    with tarfile.open(fileobj=io.BufferedReader(tee, 1 << 20), mode="r|") as layer:
        for m in layer:
            path = m.name.lstrip("./").rstrip("/")
            base = path.rsplit("/", 1)[-1]
            if base == ".wh..wh..opq":
                opaque.append(path.rsplit("/", 1)[0] if "/" in path else "")
                continue
            if base.startswith(".wh."):
                whiteouts.append((path.rsplit("/", 1)[0] + "/" if "/" in path else "") + base[4:])
                continue
            if not (m.isfile() or m.issym() or m.islnk()):
                continue
            files.append(path)
            if not m.isfile():
                continue
            content = None
            if m.size <= SCAN_LIMIT and not path.startswith(SKIP_SCAN):
                content = layer.extractfile(m).read()
            if base in KEY_NAMES or base.startswith(".env."):
                keys.append(path)
            elif base.endswith(KEY_SUFFIXES) and content is not None and PRIVATE_KEY.search(content):
                keys.append(path)
            elif content is not None:
                if PRIVATE_KEY.search(content):
                    keys.append(path)
                elif ACCESS_KEY.search(content.decode("latin-1")):
                    secrets.append((path, "an AccessKey-like string"))
        while tee.read(1 << 20):
            pass   # the end-of-archive blocks and padding too: every byte is searched
    return {"files": files, "whiteouts": whiteouts, "opaque": opaque, "keys": keys, "secrets": secrets,
            "found": sorted(tee.found)}


def gather(client: Any, image: str, dockerfile_text: str, needles: Sequence[str] = ()) -> Facts:
    """Facts from the engine: config, history, and every layer of ``docker save`` (legacy or OCI layout,
    recognised by content). Raises PluginError when a layer the manifest names could not be read."""
    info = client.inspect_image(image)
    cfg = info.get("Config") or {}
    raw_history = client.history(image)
    history = [h.get("CreatedBy", "") for h in raw_history][::-1]
    wanted = list(needles)
    encoded = encode(wanted)
    by_name: dict[str, dict[str, Any]] = {}
    links: dict[str, str] = {}
    order: list[str] = []
    with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(client.get_image(image)), 1 << 20), mode="r|") as tar:
        for m in tar:
            name = m.name.lstrip("./")
            if m.issym() or m.islnk():   # the legacy layout links a repeated layer to its first copy
                target = m.linkname if m.islnk() else posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                                                        m.linkname))
                links[name] = target.lstrip("./")
                continue
            if not m.isfile():
                continue
            fh = tar.extractfile(m)
            if name == "manifest.json":
                order = [p.lstrip("./") for p in json.loads(fh.read())[0]["Layers"]]
                continue
            layer = open_layer(fh)
            if layer is not None:
                by_name[name] = scan_layer(layer, encoded)
    layers, leaks = [], []
    for n, path in enumerate(order, 1):
        scanned = by_name.get(path) or by_name.get(links.get(path, ""))
        if scanned is None:
            raise PluginError(f"image policy: docker save of {image[:19]} has layer {path}, which could not be "
                              "read; refusing to pass the image unchecked")
        layers.append(scanned)
        leaks += [f"layer {n}"] * bool(scanned.get("found"))
    if wanted:
        texts = {"history": [json.dumps(raw_history)], "labels": [json.dumps(cfg.get("Labels") or {})],
                 "env": cfg.get("Env") or [], "config": [json.dumps(info)]}
        for where, text in texts.items():
            if in_text(text, wanted):
                leaks.append(f"the image {where}")
    return Facts(user=cfg.get("User") or "", entrypoint=cfg.get("Entrypoint"), env=cfg.get("Env") or [],
                 labels=cfg.get("Labels") or {}, history=history, layers=layers, dockerfile=dockerfile_text,
                 leaks=leaks)


def check_policy(s: Any, client: Any, image_id: str, dockerfile_text: str, r: Any, result: dict,
                 needles: Sequence[str] = ()) -> None:
    """Gather and judge; log the findings; fail (nothing pushed yet) under ``enforce`` — and always when a
    build secret or a line of the SSH key is in the image, whatever ``policy`` says."""
    from tagship import log

    if s.policy == "off" and not needles:
        return
    facts = gather(client, image_id, dockerfile_text, needles)
    findings = check(facts, s.layout)
    if s.policy == "off":
        findings = [f for f in findings if f.rule == "build-secret"]
    result["layers"] = len(facts.layers)
    result["policy"] = [{"rule": f.rule, "message": f.message} for f in findings]
    if needles:
        result["secrets_checked"] = len(needles)
    r.summary.append(("layers", len(facts.layers)))
    r.summary.append(("policy", f"{len(findings)} finding(s)" if findings else "clean"))
    leaked = [f for f in findings if f.rule == "build-secret"]
    for f in findings:
        (log.error if s.policy == "enforce" or f in leaked else log.warn)(f"policy {f.rule}: {f.message}")
    if leaked:
        raise PluginError(f"a build secret is in the image ({leaked[0].message.split(' holds')[0]}); nothing "
                          "was pushed", hint="read secrets only inside RUN --mount=type=secret and never write "
                                             "them to the file system of a layer")
    if findings and s.policy == "enforce":
        raise PluginError(f"image policy: {len(findings)} finding(s) ({', '.join(sorted({f.rule for f in findings}))}); "
                          "nothing was pushed", hint="fix the image, or set policy: warn while you do")
    elif needles:
        log.ok(f"build secrets: none of {len(needles)} value(s)/key line(s) is in any layer, history, label or env")
