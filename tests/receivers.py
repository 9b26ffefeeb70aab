"""Real receivers on loopback for notification tests: an HTTP server that stands in for a Slack
incoming webhook (or any JSON webhook) and records what it receives, and an SMTP server
(aiosmtpd) that keeps every message.

``HttpRecorder`` answers each request from a script: ``respond(200)`` for all, or
``script([500, 500, 200])`` for the next requests in turn (then the last status again);
``down()`` makes it refuse connections (the server stops listening) until ``up()``; ``delay_s``
holds every answer that long (a receiver that times out).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def json(self):
        return json.loads(self.body)


class HttpRecorder:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = [200]
        self.body = b"ok"
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.up()

    # -- control -------------------------------------------------------------------------------
    def respond(self, status: int, body: bytes = b"ok") -> None:
        with self._lock:
            self.statuses, self.body = [status], body

    def script(self, statuses: list[int], body: bytes = b"ok") -> None:
        with self._lock:
            self.statuses, self.body = list(statuses), body

    def up(self) -> None:
        if self._server is not None:
            return
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, text = recorder._next(Received("POST", self.path, dict(self.headers), body))
                if recorder.delay_s:
                    time.sleep(recorder.delay_s)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_PUT = do_POST

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until ``up()`` (same port)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def close(self) -> None:
        self.down()

    # -- reading -------------------------------------------------------------------------------
    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _next(self, received: Received) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(received)
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return status, self.body

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} requests within {timeout_s} s, got {len(self.requests)}")


class SmtpRecorder:
    """aiosmtpd on a loopback port; ``messages`` are parsed EmailMessages. ``refuse(code)``
    makes RCPT TO fail with that code (550: a permanent refusal, 451: a transient one)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_code: int | None = None
        recorder = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                if recorder.refuse_code:
                    return f"{recorder.refuse_code} recipient refused"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                recorder.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                recorder.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
                return "250 Message accepted"

        # aiosmtpd checks its server by connecting to the port it was given, so it needs a real one.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def refuse(self, code: int | None) -> None:
        self.refuse_code = code

    def close(self) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages within {timeout_s} s, got {len(self.messages)}")


@pytest.fixture
def http_receiver():
    recorder = HttpRecorder()
    yield recorder
    recorder.close()


@pytest.fixture
def smtp_receiver(settings):
    """The SMTP server, with Django's SMTP backend pointed at it for the test."""
    recorder = SmtpRecorder()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = recorder.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    yield recorder
    recorder.close()
