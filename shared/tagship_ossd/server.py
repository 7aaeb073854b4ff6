"""``tagship oss-server``: a local Aliyun OSS endpoint for tests, benchmarks and the demo.

It verifies V1 and V4 request signatures (``sig``), keeps objects on disk (``store``), names each request's operation
with a table (``router``; anything not in it is 501 NotImplemented), answers the
object, listing and multipart operations as OSS does (``oss_ops``) and can inject faults (``oss_faults``).
Control endpoints under ``/_tagship/`` (loopback clients only, no signature): ``stats``, ``reset-stats``,
``faults`` (GET the settings, POST a JSON object to change them), ``health``.

Python API::

    srv = start_server(tmp_path, {"AKID": "secret"}, ["bucket"])   # runs in a thread
    srv.endpoint; srv.stats(); srv.set_faults(rate=0.5, kinds=["503"]); srv.stop()
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, unquote

import crcmod

from . import ops as oss_ops, proto as oss_proto, router, wire
from .faults import CRC_KINDS, KINDS, RANDOM_KINDS, Faults, Stats
from .sig import AuthError, Credential, verify
from .store import Store, StoreError

CONTROL = "/_tagship/"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two sends: without it, a 40 ms delayed-ACK stall per GET
    timeout = 300  # an idle or stalled connection is closed after 5 minutes, so threads do not pile up
    server: "OssHTTPServer"

    def version_string(self) -> str:
        return "AliyunOSS"

    def log_request(self, code="-", size="-") -> None:  # the request line only, never headers
        if self.server.verbose:
            path = self.path.split("?", 1)[0]
            sys.stderr.write(f"{self.log_date_time_string()} {self.command} {path} {code}\n")

    def log_message(self, format, *args) -> None:
        if self.server.verbose:
            sys.stderr.write("oss-server: " + (format % args) + "\n")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = lambda self: self.handle_one()

    # ------------------------------------------------------------ plumbing
    def handle_one(self) -> None:
        srv = self.server
        headers: dict[str, str] = {}
        for k, v in self.headers.items():
            k = k.lower()
            v = wire.decode_header(v)
            headers[k] = f"{headers[k]},{v}" if k in headers else v
        request_id = uuid.uuid4().hex[:24].upper()
        try:
            body = oss_proto.BodyReader(self.rfile, headers)
        except ValueError:
            self.close_connection = True
            return self.send_error(400, "bad Content-Length")
        raw_path, _, qs = self.path.partition("?")
        if raw_path.startswith(CONTROL):
            return self.control(raw_path[len(CONTROL):], body)
        host = headers.get("host", "")
        try:
            bucket, key = self.split_path(raw_path, host)
        except UnicodeDecodeError:
            self.close_connection = True
            return self.send_error(400, "object name is not valid UTF-8")
        query = parse_qsl(qs, keep_blank_values=True)
        req = oss_proto.Request(self.command, bucket, key, query, headers, body.chunks, host)
        self.request_headers = headers
        op = router.route(req)
        host_id = f"{bucket}.{host}" if bucket and not host.startswith(bucket + ".") else host
        fault = srv.faults.pick(op)
        if srv.faults.latency_ms:
            time.sleep(srv.faults.latency_ms / 1000)
        resp, code = None, None
        try:
            if fault in ("503", "drop"):
                body.drain()
                if fault == "drop":
                    srv.stats.count(op, None, fault=fault, bytes_in=body.nbytes)
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                raise StoreError(503, "ServiceUnavailable", "Please reduce your request rate.")
            if bucket and op != "PutBucket":
                srv.store.bucket(bucket)  # OSS answers NoSuchBucket before it looks at the signature
            verify(self.command, headers, bucket, key, query, srv.credentials, srv.region)
            resp = oss_ops.dispatch(op, srv.store, req, srv.region)
            if fault == "crc" and "x-oss-hash-crc64ecma" in resp.headers:
                resp.headers["x-oss-hash-crc64ecma"] = str(int(resp.headers["x-oss-hash-crc64ecma"]) ^ 0x5A5A)
            elif fault == "nocrc" and "x-oss-hash-crc64ecma" in resp.headers:
                del resp.headers["x-oss-hash-crc64ecma"]
            else:
                fault = None if fault in CRC_KINDS else fault
        except (AuthError, StoreError) as e:
            code, fault = e.code, None if fault in CRC_KINDS else fault
            resp = wire.error_response(self.command, e.status, e.code, e.message, request_id, host_id, e.extra)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
            return
        except Exception:  # a bug here: answer as OSS would, keep serving
            traceback.print_exc(file=sys.stderr)
            code = "InternalError"
            resp = wire.error_response(self.command, 500, code, "We encountered an internal error. Please try again.",
                                       request_id, host_id, {})
        try:
            body.drain()
        except (ConnectionError, ValueError):
            self.close_connection = True
            if resp.stream is not None:
                resp.stream.close()
            return
        # counted before answering, so a client that reads the stats right after its answer sees this request
        planned = 0 if self.command == "HEAD" else len(resp.body) + (resp.length if resp.stream else 0)
        srv.stats.count(op, resp.status, code, fault, body.nbytes, planned)
        self.respond(resp, request_id)

    def split_path(self, raw_path: str, host: str) -> tuple[str, str]:
        hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        label, dot, rest = hostname.partition(".")
        if dot and rest and label in self.server.store.buckets:
            try:
                ipaddress.ip_address(hostname)
            except ValueError:  # virtual-host style: bucket.endpoint/key
                return label, unquote(raw_path[1:], errors="strict")
        bucket, _, key = raw_path[1:].partition("/")
        return unquote(bucket), unquote(key, errors="strict")

    def respond(self, resp: oss_proto.Response, request_id: str) -> int:
        self.send_response(resp.status)
        length = len(resp.body) + (resp.length if resp.stream is not None or self.command == "HEAD" else 0)
        if resp.status == 304 or (self.command == "HEAD" and resp.status >= 300):
            length, resp.body = 0, b""
        gzip = wire.wants_gzip(self.command, self.request_headers, resp)
        framing = {"Transfer-Encoding": "chunked", "Content-Encoding": "gzip"} if gzip else {
            "Content-Length": str(length)}
        headers = {**framing, "Connection": "close" if self.close_connection else "keep-alive",
                   "x-oss-request-id": request_id, **resp.headers}
        if gzip:
            headers.pop("Content-MD5", None)
        for k, v in headers.items():
            self.send_header(k, wire.encode_header(str(v)))
        self.end_headers()
        if self.command == "HEAD":
            return 0
        sent = 0
        try:
            if gzip:
                for chunk in wire.gzip_chunks(resp.stream, resp.length):
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        sent += len(chunk)
                self.wfile.write(b"0\r\n\r\n")
                return sent
            if resp.body:
                self.wfile.write(resp.body)
                sent += len(resp.body)
            if resp.stream is not None:
                with resp.stream as f:
                    if resp.length:
                        sent += self.connection.sendfile(f, f.tell(), resp.length)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        return sent

    def control(self, name: str, body: oss_proto.BodyReader) -> None:
        data = b"".join(body.chunks())
        client = self.client_address[0]
        if not ipaddress.ip_address(client.split("%")[0]).is_loopback:
            return self.send_json(403, {"error": "control endpoints answer loopback clients only"})
        srv = self.server
        try:
            if name == "stats" and self.command == "GET":
                return self.send_json(200, dict(srv.stats.snapshot(), fault_settings=srv.faults.snapshot()))
            if name == "reset-stats" and self.command == "POST":
                srv.stats.reset()
                return self.send_json(200, {"ok": True})
            if name == "faults" and self.command == "GET":
                return self.send_json(200, srv.faults.snapshot())
            if name == "faults" and self.command in ("POST", "PUT"):
                return self.send_json(200, srv.faults.configure(**json.loads(data or b"{}")))
            if name == "health" and self.command == "GET":
                return self.send_json(200, {"ok": True, "buckets": srv.store.bucket_names(), "region": srv.region})
        except (ValueError, TypeError) as e:
            return self.send_json(400, {"error": str(e)})
        self.send_json(404, {"error": f"no control endpoint {self.command} /_tagship/{name}"})

    def send_json(self, status: int, obj: dict) -> None:
        data = json.dumps(obj, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class OssHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, addr, store: Store, credentials: Mapping[str, Credential], region: str, faults: Faults,
                 verbose: bool = False):
        self.store, self.credentials, self.region, self.faults = store, dict(credentials), region, faults
        self.stats, self.verbose = Stats(), verbose
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(addr, Handler)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):  # a client going away is normal
            super().handle_error(request, client_address)

    def server_bind(self) -> None:  # HTTPServer's version does a reverse DNS lookup; not needed here
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def _credentials(creds: Mapping[str, str] | Iterable[Credential | Sequence[str]]) -> dict[str, Credential]:
    if isinstance(creds, Mapping):
        items = [Credential(k, v) for k, v in creds.items()]
    else:
        items = [c if isinstance(c, Credential) else Credential(*c) for c in creds]
    if not items:
        raise ValueError("at least one credential is needed")
    return {c.access_key_id: c for c in items}


class OssServer:
    """A running server (see ``start_server``)."""

    def __init__(self, httpd: OssHTTPServer, thread: threading.Thread | None = None):
        self.httpd, self.thread = httpd, thread
        host, self.port = httpd.server_address[:2]
        self.host = host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # a URL clients can use
        self.endpoint = f"http://{'[%s]' % host if ':' in host else host}:{self.port}"
        self.store = httpd.store

    def stats(self) -> dict:
        return dict(self.httpd.stats.snapshot(), fault_settings=self.httpd.faults.snapshot())

    def reset_stats(self) -> None:
        self.httpd.stats.reset()

    def set_faults(self, **settings) -> dict:
        """rate=, kinds=, latency_ms=, seed=, queue= (see ``oss_faults``); returns the new settings."""
        return self.httpd.faults.configure(**settings)

    def create_bucket(self, name: str) -> None:
        self.store.create_bucket(name, self.httpd.region)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(5)

    def __enter__(self) -> "OssServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def make_server(data_dir: str | os.PathLike, credentials, buckets: Iterable[str] = (), *, host: str = "127.0.0.1",
                port: int = 0, region: str = "cn-hangzhou", fault_rate: float = 0.0,
                fault_kinds: Iterable[str] = RANDOM_KINDS, latency_ms: float = 0, seed: int | None = None,
                verbose: bool = False) -> OssHTTPServer:
    store = Store(data_dir)
    for name in buckets:
        store.create_bucket(name, region)
    faults = Faults(fault_rate, fault_kinds, latency_ms, seed)
    return OssHTTPServer((host, port), store, _credentials(credentials), region, faults, verbose)


def start_server(data_dir: str | os.PathLike, credentials, buckets: Iterable[str] = (), **options) -> OssServer:
    """Start a server in a daemon thread. ``credentials``: {id: secret}, or (id, secret[, sts_token]) tuples /
    ``Credential`` objects (a credential with a token requires ``x-oss-security-token``). Options as
    ``make_server``: host, port, region, fault_rate, fault_kinds, latency_ms, seed, verbose."""
    httpd = make_server(data_dir, credentials, buckets, **options)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name=f"oss-server:{httpd.server_address[1]}")
    thread.start()
    return OssServer(httpd, thread)


def _sts(value: str) -> Credential:
    parts = value.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError("--sts wants ID:SECRET:TOKEN")
    return Credential(*parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="tagship oss-server", description="A local Aliyun OSS endpoint (V1/V4 "
                                "signatures, objects on disk, fault injection). Prints its URL first.")
    p.add_argument("--data", required=True, help="directory for buckets and objects (created)")
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--access-key-id", default=env("TAGSHIP_OSS_ACCESS_KEY_ID"),
                   help="accepted AccessKey ID (env TAGSHIP_OSS_ACCESS_KEY_ID)")
    p.add_argument("--access-key-secret", default=env("TAGSHIP_OSS_ACCESS_KEY_SECRET"),
                   help="its secret (env TAGSHIP_OSS_ACCESS_KEY_SECRET; prefer the env var: argv is visible)")
    p.add_argument("--sts", action="append", type=_sts, default=[], metavar="ID:SECRET:TOKEN",
                   help="an STS credential; its requests must carry x-oss-security-token: TOKEN (repeatable; "
                        "env TAGSHIP_OSS_STS)")
    p.add_argument("--bucket", action="append", default=[], help="bucket to create on start (repeatable)")
    p.add_argument("--region", default="cn-hangzhou", help="region V4 signatures must be scoped to")
    p.add_argument("--fault-rate", type=float, default=0.0, help="fraction of requests given a fault (0..1)")
    p.add_argument("--fault-kinds", default=",".join(RANDOM_KINDS),
                   help=f"comma list from {','.join(KINDS)} (default {','.join(RANDOM_KINDS)})")
    p.add_argument("--latency", type=float, default=0, metavar="MS", help="delay every answer by MS ms")
    p.add_argument("--seed", type=int, default=None, help="seed for repeatable fault choices")
    p.add_argument("--verbose", action="store_true", help="log request lines (never headers) to stderr")
    args = p.parse_args(argv)
    if env("TAGSHIP_OSS_STS"):
        args.sts.append(_sts(env("TAGSHIP_OSS_STS", "")))
    if not args.sts and not (args.access_key_id and args.access_key_secret):
        p.error("--access-key-id and --access-key-secret (or --sts) are required")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    creds = list(args.sts)
    if args.access_key_id and args.access_key_secret:
        creds.append(Credential(args.access_key_id, args.access_key_secret))
    try:
        httpd = make_server(args.data, creds, args.bucket, host=args.host, port=args.port, region=args.region,
                            fault_rate=args.fault_rate, fault_kinds=args.fault_kinds.split(","),
                            latency_ms=args.latency, seed=args.seed, verbose=args.verbose)
    except (OSError, ValueError, StoreError) as e:
        print(f"oss-server: {e}", file=sys.stderr)
        return 2
    server = OssServer(httpd)
    print(server.endpoint, flush=True)
    print(f"oss-server: serving {', '.join(httpd.store.bucket_names()) or 'no buckets'} from {args.data} "
          f"(region {args.region})", file=sys.stderr, flush=True)
    if not getattr(crcmod, "_usingExtension", True):
        print("oss-server: crcmod has no C extension here; CRC-64 of big objects will be slow", file=sys.stderr)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
