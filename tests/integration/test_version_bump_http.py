"""A private repository over HTTP (basic auth, real `git http-backend`): a Drone tag build fetches the
other tags with the DRONE_NETRC_* credentials Drone gives every step, and never prints them."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from test_version_bump import commit, drone_tag_clone, git, run, tag, tag_env

USER, PASSWORD = "ci", "SENTINEL-pw-7d1f"


def serve_git(root: Path) -> ThreadingHTTPServer:
    """Smart HTTP for the bare repositories under ``root``, behind basic auth."""
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _serve(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
                   "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                   "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                   "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                   "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "REMOTE_USER": USER,
                   "REMOTE_ADDR": "127.0.0.1"}
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
            sep = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
            head, _, payload = out.partition(sep)
            status, headers = 200, []
            for line in head.decode().splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def private_remote(tmp_path_factory):
    base = tmp_path_factory.mktemp("vb-http")
    dev = base / "dev"
    dev.mkdir()
    git(dev, "init", "-q", "-b", "main")
    commit(dev, "feat: one")
    tag(dev, "v1.0.0", annotated=True)
    commit(dev, "feat: two")
    tag(dev, "v1.1.0", annotated=False)
    commit(dev, "fix: three")
    tag(dev, "v1.0.9", annotated=True)  # a new, lower release on another line: fine for line
    commit(dev, "fix: four")
    tag(dev, "v1.0.8", annotated=True)  # lower than 1.0.9 on the 1.0 line: refused
    git(base, "clone", "-q", "--bare", str(dev), str(base / "svc.git"))
    server = serve_git(base)
    yield base / "svc.git", f"http://127.0.0.1:{server.server_port}/svc.git"
    server.shutdown()


def tag_clone_over_http(bare: Path, url: str, ws: Path, name: str) -> Path:
    drone_tag_clone(bare, ws, name)
    git(ws, "remote", "set-url", "origin", url)
    return ws


NETRC = {"DRONE_NETRC_MACHINE": "127.0.0.1", "DRONE_NETRC_USERNAME": USER, "DRONE_NETRC_PASSWORD": PASSWORD}


def test_fetches_tags_with_drone_netrc_credentials(private_remote, tmp_path):
    bare, url = private_remote
    ws = tag_clone_over_http(bare, url, tmp_path / "ws", "v1.0.9")
    proc = run(ws, **tag_env("v1.0.9"), **NETRC)
    assert proc.returncode == 0, proc.stdout
    assert (ws / ".tags").read_text() == "1.0.9,1.0"  # 1 and latest stay on 1.1.0, known from the fetch
    assert PASSWORD not in proc.stdout + proc.stderr


def test_guard_sees_the_private_tags(private_remote, tmp_path):
    bare, url = private_remote
    ws = tag_clone_over_http(bare, url, tmp_path / "ws", "v1.0.8")
    proc = run(ws, **tag_env("v1.0.8"), **NETRC)
    assert proc.returncode == 1
    assert "1.0.8 is lower than 1.0.9 (v1.0.9, the highest release of 1.0.x)" in proc.stdout


def test_credentials_only_for_their_host(private_remote, tmp_path):
    bare, url = private_remote
    ws = tag_clone_over_http(bare, url, tmp_path / "ws", "v1.0.9")
    proc = run(ws, **tag_env("v1.0.9"), **{**NETRC, "DRONE_NETRC_MACHINE": "git.example.com"})
    assert proc.returncode == 1
    assert "cannot fetch the tags the guard needs" in proc.stdout
    assert "hint: the step needs read access to origin" in proc.stdout
    assert PASSWORD not in proc.stdout + proc.stderr + (ws / ".tagship" / "version-bump.json").read_text()


def test_password_in_the_remote_url_is_masked(private_remote, tmp_path):
    # git >= 2.37 redacts URLs in its own errors; this guards every other path (our messages, older gits)
    bare, url = private_remote
    ws = tag_clone_over_http(bare, url.replace("http://", f"http://{USER}:{PASSWORD}x@"), tmp_path / "ws",
                             "v1.0.9")  # a wrong password: git prints the URL in its error
    proc = run(ws, **tag_env("v1.0.9"))
    assert proc.returncode == 1
    text = proc.stdout + proc.stderr + (ws / ".tagship" / "version-bump.json").read_text()
    assert PASSWORD not in text and "127.0.0.1" in text
