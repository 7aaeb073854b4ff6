"""A local double of a Container Service (swarm edition) cluster master: HTTPS with mutual TLS and the
documented projects API (research/cs-deploy.md §1; Aliyun docs 26066, 26068, 60332; aliyungo cs/projects.go).

* TLS: a CA made here (``cryptography``), a server certificate for 127.0.0.1/localhost, and a client
  certificate + key — the three PEMs the OpenAPI double's ``DescribeClusterCerts`` returns (``certs``). A client
  without a certificate signed by the CA fails the handshake.
* ``GET /projects/?q=``, ``GET /projects/{name}``, ``POST /projects/`` (201, ``Location``),
  ``POST /projects/{name}/update`` (202; 409 when the version is unchanged; ``update_method: blue-green`` leaves
  an unconfirmed release, and any update while one is unconfirmed fails with "Conflicts with unconfirmed updates
  for operation"), ``POST /projects/{name}/confirm-update?force=true``, ``.../rollback-update?force=true``.
* States change over time: ``updating`` for ``delay`` seconds, then ``running`` or ``failed`` (the template
  contains ``fail_marker``, or ``fail_versions`` lists the version). Pollers must really poll.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,63}$")
UNCONFIRMED = "Conflicts with unconfirmed updates for operation"


def make_pki(common_name: str = "tagship-cs-double") -> dict[str, str]:
    """PEMs: ca, server_cert, server_key, cert, key (client), and a rogue client (rogue_cert, rogue_key) from
    another CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    now = dt.datetime.now(dt.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def key_pem(key: Any) -> str:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()

    def cert(subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool = False, server: bool = False) -> Any:
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                              content_commitment=False, key_encipherment=False,
                                              data_encipherment=False, key_agreement=False,
                                              encipher_only=False, decipher_only=False), critical=True)
        elif server:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def pem(c: Any) -> str:
        return c.public_bytes(serialization.Encoding.PEM).decode()

    ca_key, srv_key, cli_key, rogue_ca_key, rogue_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(5))
    ca = cert(f"{common_name} CA", ca_key, f"{common_name} CA", ca_key, ca=True)
    rogue_ca = cert("rogue CA", rogue_ca_key, "rogue CA", rogue_ca_key, ca=True)
    return {"ca": pem(ca), "server_cert": pem(cert("127.0.0.1", srv_key, f"{common_name} CA", ca_key, server=True)),
            "server_key": key_pem(srv_key), "cert": pem(cert("client", cli_key, f"{common_name} CA", ca_key)),
            "key": key_pem(cli_key), "rogue_cert": pem(cert("client", rogue_key, "rogue CA", rogue_ca_key)),
            "rogue_key": key_pem(rogue_key)}


@dataclass
class CsMasterDouble:
    delay: float = 0.3                       # seconds a project stays "updating"
    fail_marker: str = "broken"              # a template containing it ends "failed"
    fail_versions: set[str] = field(default_factory=set)
    fail_next: list[int] = field(default_factory=list)   # statuses answered before serving (e.g. 503, 502)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    tls_failures: int = 0
    pki: dict[str, str] = field(default_factory=make_pki)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None
    _tmp: Any = None

    @property
    def certs(self) -> dict[str, str]:
        """What DescribeClusterCerts returns for this cluster."""
        return {"ca": self.pki["ca"], "cert": self.pki["cert"], "key": self.pki["key"]}

    @property
    def url(self) -> str:
        assert self._server, "start() the double first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "CsMasterDouble":
        self._tmp = tempfile.TemporaryDirectory(prefix="cs-master-")
        tmp = Path(self._tmp.name)
        (tmp / "srv.pem").write_text(self.pki["server_cert"])
        (tmp / "srv.key").write_text(self.pki["server_key"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp / "srv.pem", tmp / "srv.key")
        ctx.load_verify_locations(cadata=self.pki["ca"])
        ctx.verify_mode = ssl.CERT_REQUIRED
        double = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request: Any, client_address: Any) -> None:
                double.tls_failures += 1   # a refused client certificate lands here; no traceback on stderr

        class Handler(_Handler):
            master = double

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True, name="cs-master").start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "CsMasterDouble":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- the projects API --------------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        parsed = urllib.parse.urlsplit(raw_path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        parts = [urllib.parse.unquote(p) for p in parsed.path.split("/") if p]
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return 400, {"message": "invalid JSON body"}, {}
        with self._lock:
            if self.fail_next:
                return self.fail_next.pop(0), {"message": "injected fault"}, {}
            self.requests.append((method, parsed.path, data))
            if parts[:1] != ["projects"]:
                return 404, {"message": "page not found"}, {}
            if method == "GET" and len(parts) == 1:
                q = query.get("q", "")
                return 200, [self._view(p) for n, p in sorted(self.projects.items()) if q in n], {}
            if method == "POST" and len(parts) == 1:
                return self._create(data)
            project = self.projects.get(parts[1]) if len(parts) > 1 else None
            if project is None:
                return 404, {"message": f"project {parts[1] if len(parts) > 1 else ''} not found"}, {}
            self._advance(project)
            if method == "GET" and len(parts) == 2:
                return 200, self._view(project), {}
            if method == "DELETE" and len(parts) == 2:
                del self.projects[project["name"]]
                return 200, None, {}
            op = parts[2] if len(parts) == 3 and method == "POST" else None
            if op == "update":
                return self._update(project, data)
            if op == "confirm-update":
                return self._confirm(project)
            if op == "rollback-update":
                return self._rollback(project)
            return 404, {"message": "page not found"}, {}

    def _create(self, data: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        name = str(data.get("name") or "")
        if not _NAME.match(name):
            return 400, {"message": f"invalid project name {name!r}"}, {}
        if name in self.projects:
            return 409, {"message": f"project {name} already exists"}, {}
        if not data.get("template"):
            return 400, {"message": "template is required"}, {}
        now = _now()
        project = {"name": name, "description": data.get("description", ""), "template": data["template"],
                   "version": str(data.get("version") or "1.0"), "environment": data.get("environment") or {},
                   "created": now, "updated": now, "desired_state": "running", "current_state": "updating",
                   "services": [], "_unconfirmed": None}
        self.projects[name] = project
        self._start_release(project, blue_green=False)
        return 201, None, {"Location": f"/projects/{name}"}

    def _update(self, project: dict[str, Any], data: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if project["_unconfirmed"] is not None:
            return 409, {"message": UNCONFIRMED}, {}
        if project["current_state"] == "updating":
            return 409, {"message": f"project {project['name']} is updating; wait until the operation ends"}, {}
        version = str(data.get("version") or "")
        if not version or version == project["version"]:
            return 409, {"message": f"version {version!r} of project {project['name']} is the current one; "
                                    "a new version is required"}, {}
        previous = {k: project[k] for k in ("template", "version", "environment")}
        project.update(template=data.get("template") or project["template"], version=version,
                       environment=data.get("environment") if data.get("environment") is not None
                       else project["environment"], updated=_now(), current_state="updating")
        if data.get("description") is not None:
            project["description"] = data["description"]
        blue_green = data.get("update_method") == "blue-green"
        if blue_green:
            project["_unconfirmed"] = previous
        self._start_release(project, blue_green=blue_green)
        return 202, {"message": "accepted"}, {}

    def _confirm(self, project: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if project["_unconfirmed"] is None:
            return 409, {"message": "no unconfirmed update to confirm"}, {}
        if project["current_state"] == "updating":
            return 409, {"message": "the update is still in progress"}, {}
        project["_unconfirmed"] = None
        project["services"] = [s for s in project["services"] if s["version"] == project["version"]]
        project["updated"] = _now()
        return 202, {"message": "accepted"}, {}

    def _rollback(self, project: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        previous = project["_unconfirmed"]
        if previous is None:
            return 409, {"message": "no unconfirmed update to roll back"}, {}
        project.update(previous, _unconfirmed=None, updated=_now(), current_state="updating")
        project["services"] = [s for s in project["services"] if s["version"] == project["version"]]
        project["_pending"] = {"at": time.monotonic() + self.delay, "failed": False, "restore": True}
        return 202, {"message": "accepted"}, {}

    def _start_release(self, project: dict[str, Any], *, blue_green: bool) -> None:
        failed = self.fail_marker in project["template"] or project["version"] in self.fail_versions
        project["_pending"] = {"at": time.monotonic() + self.delay, "failed": failed, "blue_green": blue_green}

    def _advance(self, project: dict[str, Any]) -> None:
        pending = project.get("_pending")
        if not pending or time.monotonic() < pending["at"]:
            return
        project["_pending"] = None
        if pending.get("restore"):
            for s in project["services"]:
                s["current_state"] = "running"
            project["current_state"] = "running"
            return
        state = "failed" if pending["failed"] else "running"
        names = _service_names(project["template"]) or ["app"]
        new = [{"name": n, "id": f"{project['name']}_{n}_{project['version']}", "version": project["version"],
                "current_state": state, "desired_state": "running"} for n in names]
        old = project["services"] if pending["blue_green"] else []
        project["services"] = old + new
        project["current_state"] = state

    def _view(self, project: dict[str, Any]) -> dict[str, Any]:
        self._advance(project)
        env = dict(project["environment"], COMPOSE_PROJECT_NAME=project["name"],
                   ACS_PROJECT_VERSION=project["version"])
        return {k: (env if k == "environment" else json.loads(json.dumps(v)))
                for k, v in project.items() if not k.startswith("_")}


def _service_names(template: str) -> list[str]:
    try:
        doc = yaml.safe_load(template)
    except yaml.YAMLError:
        return []
    if not isinstance(doc, dict):
        return []
    services = doc.get("services") if isinstance(doc.get("services"), dict) else doc  # v1 compose: top level
    return [str(k) for k, v in services.items() if isinstance(v, dict)]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Handler(BaseHTTPRequestHandler):
    master: CsMasterDouble
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, data, headers = self.master.handle(self.command, self.path, body)
        payload = b"" if data is None else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
