"""cs-deploy health gate against a real HTTP server on loopback: expected status and body, retries until it
passes, a clear last problem when it does not, and never past the deadline."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cs_deploy.health import gate


@pytest.fixture()
def server():
    answers: list[tuple[int, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            status, body = answers.pop(0) if len(answers) > 1 else answers[0]
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/health", answers
    httpd.shutdown()


def no_sleep(seconds):
    pass


def test_passes_after_a_few_bad_answers(server):
    url, answers = server
    answers += [(503, "starting"), (200, "version 1.3"), (200, "version 1.4 ok")]
    assert gate(url, 200, r"1\.4", retries=5, interval=0.01, deadline=1e12, sleep=no_sleep) == (True, "")


@pytest.mark.parametrize("answer, status, body, problem", [
    ((500, "boom"), 200, None, "HTTP 500, expected 200"),
    ((200, "version 1.3"), 200, r"1\.4", "does not match"),
    ((204, ""), 204, None, None),
])
def test_status_and_body_are_checked(server, answer, status, body, problem):
    url, answers = server
    answers.append(answer)
    passed, last = gate(url, status, body, retries=2, interval=0.01, deadline=1e12, sleep=no_sleep)
    assert passed is (problem is None) and (problem or "") in last


def test_nothing_listening_is_a_failure_with_the_reason():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    passed, problem = gate(f"http://127.0.0.1:{port}/", 200, None, retries=2, interval=0.01, deadline=1e12,
                           sleep=no_sleep)
    assert not passed and "ConnectionError" in problem


def test_stops_at_the_deadline(server):
    url, answers = server
    answers.append((500, "no"))
    now = [0.0]
    passed, problem = gate(url, 200, None, retries=100, interval=2.0, deadline=5.0,
                           sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert not passed and "out of time" in problem and now[0] <= 5.0
