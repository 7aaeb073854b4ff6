"""cs-deploy against a swarm manager over mutual TLS (``docker_host`` + ``tls_ca``/``tls_cert``/``tls_key`` given
as PEM text, as they come from Drone secrets), and a stack with a swarm secret from a file.

The engine is the real one: a TLS terminator in this test forwards to /var/run/docker.sock and, like
``dockerd --tlsverify``, only accepts clients with a certificate from its CA. A client certificate from another
CA is refused, and the step says so in one line (exit 1), without a traceback or any key material.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the doubles package

from doubles.cs_master import make_pki  # noqa: E402

pytestmark = pytest.mark.engine

BIN = Path(sys.executable).parent / "cs-deploy"
SECRET_CONTENT = "SENTINEL-swarm-secret-6b2e"
COMPOSE = """services:
  app:
    image: ${IMAGE}
    command: ["sh", "-c", "test -s /run/secrets/app_key && exec httpd -f -p 8080 -h /"]
    stop_grace_period: 1s
    healthcheck:
      disable: true
    secrets:
      - app_key
secrets:
  app_key:
    file: ./app_key.txt
"""


class TlsEngine:
    """A TLS listener on 127.0.0.1 that requires a client certificate and pipes to the engine's socket."""

    def __init__(self, pki: dict[str, str], sock_path: str = "/var/run/docker.sock"):
        self.sock_path = sock_path
        self.dir = tempfile.mkdtemp(prefix="csd-tls-engine-")
        files = {}
        for key in ("ca", "server_cert", "server_key"):
            files[key] = os.path.join(self.dir, key)
            Path(files[key]).write_text(pki[key])
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files["ca"])
        self.ctx.load_cert_chain(files["server_cert"], files["server_key"])
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            self.refused += 1
            conn.close()
            return
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(self.sock_path)

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, tls), daemon=True).start()
        pipe(tls, upstream)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def engine(swarm):
    pki = make_pki("tagship-engine")
    server = TlsEngine(pki)
    yield pki, server
    server.close()


def run(ws: Path, stack: str, port: int, cert: str, key: str, ca: str, image: str):
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws), "DRONE_TAG": "v1.0.0",
           "PLUGIN_STACK": stack, "PLUGIN_DOCKER_HOST": f"tcp://127.0.0.1:{port}",
           "PLUGIN_TLS_CA": ca, "PLUGIN_TLS_CERT": cert, "PLUGIN_TLS_KEY": key, "PLUGIN_ALLOW_FLOATING": "true",
           "PLUGIN_ENVIRONMENT": json.dumps({"IMAGE": image}), "PLUGIN_MONITOR": "1s", "PLUGIN_POLL_INTERVAL": "0.3s",
           "PLUGIN_TIMEOUT": "60s", "PLUGIN_LINT": "off"}
    proc = subprocess.run([str(BIN)], env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    for secret in ("PRIVATE KEY", SECRET_CONTENT):
        assert secret not in out, f"{secret} printed"
    return proc.returncode, out


def test_deploys_over_mutual_tls_with_a_file_secret_and_refuses_a_foreign_client(engine, docker_client,
                                                                                 busybox_image, tmp_workspace):
    pki, server = engine
    stack = f"csdtls{uuid.uuid4().hex[:8]}"
    ws = Path(tmp_workspace)
    (ws / "docker-compose.yml").write_text(COMPOSE)
    (ws / "app_key.txt").write_text(SECRET_CONTENT + "\n")
    try:
        code, out = run(ws, stack, server.port, pki["cert"], pki["key"], pki["ca"], busybox_image)
        assert code == 0, out
        secrets = [s for s in docker_client.secrets.list(filters={"label": f"com.docker.stack.namespace={stack}"})]
        assert len(secrets) == 1 and secrets[0].name.startswith(f"{stack}_app_key_")
        spec = docker_client.api.inspect_service(f"{stack}_app")["Spec"]
        refs = spec["TaskTemplate"]["ContainerSpec"]["Secrets"]
        assert refs[0]["SecretName"] == secrets[0].name and refs[0]["File"]["Name"] == "app_key"

        code, out = run(ws, f"{stack}x", server.port, pki["rogue_cert"], pki["rogue_key"], pki["ca"], busybox_image)
        assert code == 1, out
        assert "cannot reach the Docker engine at tcp://127.0.0.1" in out and "Traceback" not in out, out
        assert server.refused >= 1
    finally:
        label = {"label": f"com.docker.stack.namespace={stack}"}
        for svc in docker_client.services.list(filters=label):
            svc.remove()
        deadline = time.monotonic() + 30      # secrets and networks stay "in use" until swarm reaps the tasks
        while time.monotonic() < deadline:
            left = [o for kind in (docker_client.secrets, docker_client.networks) for o in kind.list(filters=label)]
            for obj in left:
                try:
                    obj.remove()
                except Exception:
                    pass
            if not left:
                break
            time.sleep(0.5)
