"""Log in (in-process: no password on any command line), push every target in parallel with bounded
concurrency, read each push stream for ``errorDetail`` (docker-py does not raise on push errors), retry the
transient failures through the kit, and read every tag's digest back over the registry's HTTP API v2.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from tagship import log
from tagship.errors import PluginError
from tagship.mask import StreamMasker, mask
from tagship.registry import RegistryClient, RegistryError, ca_for
from tagship.retry import RetryPolicy, RetryStats, retrying

from .plan import Dest, transient_push_error


class PushError(Exception):
    """An error the engine reported for one push (from the stream or the API)."""


@dataclass
class DestResult:
    dest: Dest
    digests: dict[str, str] = field(default_factory=dict)   # tag -> digest from the push stream
    layers: dict[str, str] = field(default_factory=dict)    # layer id -> pushed | existing
    error: str | None = None
    verified: dict[str, str] = field(default_factory=dict)  # tag -> digest read back over HTTP

    @property
    def pushed(self) -> int:
        return sum(1 for s in self.layers.values() if s == "pushed")

    @property
    def existing(self) -> int:
        return sum(1 for s in self.layers.values() if s == "existing")


def _auth_config(dest: Dest) -> dict[str, str] | None:
    if dest.password is None and not dest.username:
        return None
    return {"username": dest.username, "password": dest.password or ""}


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, PushError) and transient_push_error(str(exc))


def login(client: Any, dest: Dest, policy: RetryPolicy, stats: RetryStats) -> None:
    """Check the credentials through the engine's /auth (the registry answers); no config file is written."""
    if _auth_config(dest) is None:
        return

    def attempt() -> None:
        try:
            client.login(username=dest.username, password=dest.password or "", registry=dest.host, reauth=True)
        except Exception as exc:
            text = getattr(exc, "explanation", None) or str(exc)
            raise PushError(mask(str(text))) from None

    try:
        retrying(_is_transient, policy, f"login to {dest.host}", stats)(attempt)
    except PushError as exc:
        raise PluginError(f"login to {dest.host} as {dest.username or '(anonymous)'} failed: {exc}",
                          hint="check the username/password secrets for this registry (a wrong password is "
                               "never retried)") from None


def push_one(client: Any, dest: Dest, tag: str, result: DestResult) -> None:
    """One ``docker push`` through the API; raises PushError with the stream's error message."""
    masker = StreamMasker()
    try:
        stream = client.push(dest.image, tag=tag, stream=True, decode=True, auth_config=_auth_config(dest))
        for item in stream:
            if "errorDetail" in item or "error" in item:
                detail = item.get("errorDetail") or {}
                raise PushError(masker.feed(str(detail.get("message") or item.get("error"))) + masker.flush())
            status, layer = item.get("status", ""), item.get("id", "")
            if status == "Pushed" and layer:
                result.layers[layer] = "pushed"
            elif layer and (status == "Layer already exists" or status.startswith("Mounted from")):
                result.layers.setdefault(layer, "existing")
            aux = item.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                result.digests[tag] = aux["Digest"]
    except PushError:
        raise
    except Exception as exc:   # requests/urllib3 errors: a dropped engine connection is worth a retry
        raise PushError(mask(f"{type(exc).__name__}: {getattr(exc, 'explanation', None) or exc}")) from None
    if tag not in result.digests:
        raise PushError(f"push of {dest.ref(tag)} ended without a digest (unexpected EOF)")


def push_dest(make_client: Callable[[], Any], dest: Dest, tags: list[str], policy: RetryPolicy,
              stats: RetryStats, result: DestResult | None = None) -> DestResult:
    result = result or DestResult(dest)
    client = make_client()
    try:
        for tag in tags:
            retrying(_is_transient, policy, f"push {dest.ref(tag)}", stats)(push_one, client, dest, tag, result)
            log.ok(f"pushed {dest.ref(tag)} {result.digests[tag]}")
    except PushError as exc:
        result.error = str(exc)
    finally:
        try:
            client.close()
        except Exception:
            pass
    return result


def push_all(make_client: Callable[[], Any], dests: list[Dest], tags: list[str], *, parallel: int,
             policy: RetryPolicy, stats: RetryStats,
             results: dict[str, DestResult] | None = None) -> list[DestResult]:
    """Push every target (targets in parallel, a target's tags in order: the first uploads the layers).
    ``results`` (by image) carries a target's result over from an earlier phase."""
    results = results if results is not None else {}
    gate = threading.BoundedSemaphore(max(1, parallel))
    out: dict[int, DestResult] = {}

    def work(i: int, dest: Dest) -> None:
        with gate:
            try:
                out[i] = push_dest(make_client, dest, tags, policy, stats, results.get(dest.image))
            except Exception as exc:   # e.g. the engine went away: a failed target, never a thread traceback
                failed = results.get(dest.image) or DestResult(dest)
                failed.error = mask(f"{type(exc).__name__}: {exc}")
                out[i] = failed

    # daemon threads: on SIGTERM the main thread unwinds and the process exits at once; the engine sees its
    # connections close and cancels the pushes (a ThreadPoolExecutor would keep the process alive until
    # every push had finished)
    threads = [threading.Thread(target=work, args=(i, d), name=f"push-{i}", daemon=True)
               for i, d in enumerate(dests)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    missing = [dests[i].image for i in range(len(dests)) if i not in out]
    if missing:
        raise PluginError(f"push to {', '.join(missing)} stopped unexpectedly (see the log)")
    return [out[i] for i in range(len(dests))]


def verify(result: DestResult, *, ca_cert: str = "", policy: RetryPolicy, stats: RetryStats) -> None:
    """Read each tag's manifest digest over HTTP API v2; a mismatch with the push stream is an error."""
    dest = result.dest
    api = RegistryClient(dest.host, dest.username, dest.password,
                         verify=ca_for(dest.host, ca_cert, dest.insecure),
                         allow_http=dest.insecure)

    def read(tag: str) -> str:
        try:
            return api.digest(dest.path, tag)
        except RegistryError as exc:
            if exc.status and (exc.status >= 500 or exc.status == 429):
                raise PushError(str(exc)) from None
            raise PluginError(f"cannot read {dest.ref(tag)} back: {exc}") from None
        except Exception as exc:   # connection errors
            raise PushError(f"{type(exc).__name__}: {exc}") from None

    for tag in result.digests:
        try:
            result.verified[tag] = retrying(_is_transient, policy, f"read back {dest.ref(tag)}", stats)(read, tag)
        except PushError as exc:
            raise PluginError(f"cannot read {dest.ref(tag)} back: {exc}") from None


def released_tags(dest: Dest, *, ca_cert: str = "") -> list[str]:
    """The tags already in the target repository ([] if it does not exist yet or cannot be listed)."""
    api = RegistryClient(dest.host, dest.username, dest.password, verify=ca_for(dest.host, ca_cert, dest.insecure),
                         allow_http=dest.insecure)
    try:
        return api.tags(dest.path)
    except Exception as exc:
        log.warn(f"cannot list the tags of {dest.image} ({mask(str(exc))}); floating tags are judged without them")
        return []
