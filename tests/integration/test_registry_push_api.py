"""registry-push's HTTP API v2 client against a token-auth registry double (the scheme Aliyun's and Docker
Hub's registries use: 401 + ``WWW-Authenticate: Bearer realm=…,service=…``, a token from the realm for the
repository scope), and against the real htpasswd registry of the test bed (basic auth)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tagship.registry import RegistryClient, RegistryError

USER, PW, TOKEN = "cr_temp_user", "SENTINEL-cr-pw-51aa", "SENTINEL-bearer-0c1d"
DIGEST = "sha256:" + "ab" * 32


class TokenRegistry(BaseHTTPRequestHandler):
    """/v2/… needs ``Bearer TOKEN`` with the pull scope of that repository; /token hands it out for basic auth."""

    protocol_version = "HTTP/1.1"
    seen: list = []

    def log_message(self, *a):
        pass

    def _send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.seen.append((self.command, self.path, self.headers.get("Authorization", ""),
                          self.headers.get("Accept", "")))
        host = f"http://{self.headers['Host']}"
        if self.path.startswith("/token"):
            want = "Basic " + base64.b64encode(f"{USER}:{PW}".encode()).decode()
            if self.headers.get("Authorization") != want:
                return self._send(401)
            assert "service=registry.test" in self.path and "scope=repository%3Aly_ops%2Fapp%3Apull" in self.path
            return self._send(200, json.dumps({"token": TOKEN}).encode())
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                "WWW-Authenticate": f'Bearer realm="{host}/token",service="registry.test",'
                                    f'scope="repository:ly_ops/app:pull"'})
        if self.path.startswith("/v2/ly_ops/app/tags/list"):
            if "last=" not in self.path:
                return self._send(200, json.dumps({"name": "ly_ops/app", "tags": ["1.0.0", "1.1.0"]}).encode(),
                                  {"Link": '</v2/ly_ops/app/tags/list?n=2&last=1.1.0>; rel="next"'})
            return self._send(200, json.dumps({"name": "ly_ops/app", "tags": ["latest"]}).encode())
        if self.path == "/v2/ly_ops/app/manifests/1.1.0":
            return self._send(200, b"", {"Docker-Content-Digest": DIGEST,
                                         "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    do_HEAD = do_GET


@pytest.fixture
def registry():
    TokenRegistry.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_bearer_token_auth_pagination_and_manifest_digest(registry):
    api = RegistryClient(registry, USER, PW, scheme="http")
    assert api.tags("ly_ops/app") == ["1.0.0", "1.1.0", "latest"]
    assert api.digest("ly_ops/app", "1.1.0") == DIGEST
    token_calls = [s for s in TokenRegistry.seen if s[1].startswith("/token")]
    assert len(token_calls) == 1                          # the token is reused for the same scope
    head = [s for s in TokenRegistry.seen if s[0] == "HEAD"][-1]
    assert head[2] == f"Bearer {TOKEN}"
    assert "application/vnd.oci.image.manifest.v1+json" in head[3]
    assert "application/vnd.docker.distribution.manifest.v2+json" in head[3]
    with pytest.raises(RegistryError) as err:
        api.digest("ly_ops/app", "9.9.9")
    assert err.value.status == 404


def test_wrong_password_at_the_token_endpoint(registry):
    api = RegistryClient(registry, USER, "wrong", scheme="http")
    with pytest.raises(RegistryError) as err:
        api.tags("ly_ops/app")
    assert err.value.status == 401 and "token endpoint" in str(err.value)


@pytest.mark.engine
def test_basic_auth_against_the_test_bed_registry(testbed):
    api = RegistryClient(testbed.registry, testbed.user, testbed.password, verify=testbed.ca)
    assert api.tags("no-such/repository-here") == []      # 404: nothing released yet
    bad = RegistryClient(testbed.registry, testbed.user, "wrong", verify=testbed.ca)
    with pytest.raises(RegistryError) as err:
        bad.tags("x/y")
    assert err.value.status == 401


def test_an_insecure_registry_without_tls_is_read_over_http(registry):
    """insecure: true — dockerd pushes to a plain-HTTP registry; the read-back must reach it too."""
    api = RegistryClient(registry, USER, PW, allow_http=True)       # starts with https, as dockerd does
    assert api.digest("ly_ops/app", "1.1.0") == DIGEST and api.scheme == "http"
    import requests

    with pytest.raises(requests.exceptions.SSLError):
        RegistryClient(registry, USER, PW).digest("ly_ops/app", "1.1.0")   # not insecure: no fallback


class ManifestStore(BaseHTTPRequestHandler):
    """Basic auth; serves one OCI manifest by digest and records the PUTs (``lie``: answer another digest)."""

    protocol_version = "HTTP/1.1"
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}'
    media = "application/vnd.oci.image.manifest.v1+json"
    puts: list = []
    lie = False

    def log_message(self, *a):
        pass

    def _send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self):
        if self.headers.get("Authorization") == "Basic " + base64.b64encode(f"{USER}:{PW}".encode()).decode():
            return True
        self._send(401, b"{}", {"WWW-Authenticate": 'Basic realm="test"'})
        return False

    def do_GET(self):
        if not self._authorized():
            return
        digest = "sha256:" + hashlib.sha256(self.body).hexdigest()
        if self.path == f"/v2/ly_ops/app/manifests/{digest}":
            return self._send(200, self.body, {"Content-Type": self.media, "Docker-Content-Digest": digest})
        return self._send(404, b"{}")

    def do_PUT(self):
        if not self._authorized():
            return
        data = self.rfile.read(int(self.headers["Content-Length"]))
        self.puts.append((self.path, self.headers.get("Content-Type"), data))
        digest = "sha256:" + hashlib.sha256(b"other" if self.lie else data).hexdigest()
        return self._send(201, b"", {"Docker-Content-Digest": digest})


@pytest.fixture
def store():
    ManifestStore.puts, ManifestStore.lie = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), ManifestStore)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_put_tag_copies_the_manifest_bytes_and_media_type_and_checks_the_digest(store):
    api = RegistryClient(store, USER, PW, scheme="http")
    digest = "sha256:" + hashlib.sha256(ManifestStore.body).hexdigest()
    assert api.put_tag("ly_ops/app", digest, "latest") == digest
    assert ManifestStore.puts == [("/v2/ly_ops/app/manifests/latest", ManifestStore.media, ManifestStore.body)]
    ManifestStore.lie = True                     # a registry that stored something else is an error
    with pytest.raises(RegistryError) as err:
        api.put_tag("ly_ops/app", digest, "1")
    assert "stored sha256:" in str(err.value) and digest in str(err.value)
    with pytest.raises(RegistryError) as err:    # an unknown digest: nothing is put
        api.put_tag("ly_ops/app", "sha256:" + "0" * 64, "2")
    assert err.value.status == 404 and len(ManifestStore.puts) == 2
