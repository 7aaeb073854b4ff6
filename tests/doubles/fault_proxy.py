"""An HTTPS fault proxy in front of a real registry: forwards every request, and fails a chosen fraction of
blob uploads with ``503`` — at the final ``PUT /v2/<name>/blobs/uploads/<id>?digest=…`` that commits the blob,
after the data was sent, which is what a busy registry or a flaky load balancer does. It can also fail the
first N manifest PUTs (the engine does not retry those itself, so the plugin's own retry must), and add a fixed
delay to every request (``latency``: a registry in another region, for benchmarks).

The ``Host`` header is passed through unchanged, so the registry's ``Location`` headers point back at the
proxy and the whole upload protocol goes through it. By default the faults follow a fixed schedule — with
``blob_fail_rate=0.2`` the 1st, 6th, 11th… blob commit fails: exactly that fraction, and always at least the
first — so a test never passes by luck; ``seed=N`` draws them from a seeded RNG instead.

    proxy = FaultProxy("localhost:5443", ca="…/ca.crt", cert=…, key=…, blob_fail_rate=0.2).start()
    proxy.address   # "127.0.0.1:<port>"
    proxy.stats     # {"requests": …, "blob_uploads": …, "blob_faults": …, "injected": …}
    proxy.stop()

Run by hand: ``python tests/doubles/fault_proxy.py localhost:5443 --rate 0.2`` (reads the test bed's TLS).
"""

from __future__ import annotations

import http.client
import math
import random
import re
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BLOB_UPLOAD = re.compile(r"^/v2/.+/blobs/uploads/")
MANIFEST = re.compile(r"^/v2/.+/manifests/[^/]+$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
       "content-length"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _fault(self) -> bool:
        proxy = self.server.proxy
        with proxy.lock:
            proxy.stats["requests"] += 1
            if BLOB_UPLOAD.match(self.path) and self.command == "PUT":   # the commit of one blob upload
                proxy.stats["blob_uploads"] += 1
                n, rate = proxy.stats["blob_uploads"], proxy.blob_fail_rate
                fail = (proxy.rng.random() < rate) if proxy.rng else math.ceil(n * rate) != math.ceil((n - 1) * rate)
                if fail:
                    proxy.stats["blob_faults"] += 1
                    proxy.stats["injected"] += 1
                    return True
            if MANIFEST.match(self.path) and self.command == "PUT" and proxy.manifest_failures_left > 0:
                proxy.manifest_failures_left -= 1
                proxy.stats["injected"] += 1
                return True
        return False

    def _handle(self) -> None:
        body = self._body()
        if self.server.proxy.latency:
            time.sleep(self.server.proxy.latency)   # a round trip to a registry far away
        if self._fault():
            msg = b"fault proxy: injected 503\n"
            self.send_response(503, "Service Unavailable")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(msg)
            return
        proxy = self.server.proxy
        conn = http.client.HTTPSConnection(proxy.upstream_host, proxy.upstream_port, context=proxy.client_ctx,
                                           timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST", "PATCH")
                         else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            msg = f"fault proxy: upstream error {exc}\n".encode()
            self.send_response(502, "Bad Gateway")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: "FaultProxy"


class FaultProxy:
    def __init__(self, upstream: str, *, ca: str, cert: str, key: str, blob_fail_rate: float = 0.2,
                 fail_manifest_puts: int = 0, seed: int | None = None, host: str = "127.0.0.1", port: int = 0,
                 latency: float = 0.0):
        self.upstream_host, _, port_s = upstream.partition(":")
        self.upstream_port = int(port_s or 443)
        self.client_ctx = ssl.create_default_context(cafile=ca)
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(cert, key)
        self.blob_fail_rate = blob_fail_rate
        self.latency = latency
        self.manifest_failures_left = fail_manifest_puts
        self.rng = random.Random(seed) if seed is not None else None
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "blob_uploads": 0, "blob_faults": 0, "injected": 0}
        self._server = _Server((host, port), _Handler)
        self._server.proxy = self
        self._server.socket = self.server_ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> "FaultProxy":
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    import argparse
    import os

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("upstream")
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--port", type=int, default=0)
    tls = os.path.join(os.environ.get("TAGSHIP_TESTBED_DIR", ".testbed"), "tls")
    a = ap.parse_args()
    p = FaultProxy(a.upstream, ca=f"{tls}/ca.crt", cert=f"{tls}/server.crt", key=f"{tls}/server.key",
                   blob_fail_rate=a.rate, port=a.port).start()
    print(f"fault proxy on {p.address} -> {a.upstream} (blob upload failure rate {a.rate})", flush=True)
    while True:
        time.sleep(3600)
