"""A real SMTP server (aiosmtpd) and a real HTTP webhook receiver, both on free local ports, each able to go down
and come back on the same port."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import http.server
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPServer:
    """aiosmtpd on 127.0.0.1; ``messages`` are parsed ``EmailMessage`` objects, in arrival order."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Receiver:
    """An HTTP server recording POSTs; it checks the BOS signature when given the secret (401 if wrong)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.secret: str | None = None
        self.calls: list[dict[str, Any]] = []
        self.status = 204
        self.server: http.server.ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                timestamp = self.headers.get("X-BOS-Timestamp", "")
                signature = self.headers.get("X-BOS-Signature", "")
                valid = None
                if receiver.secret is not None:
                    expected = hmac.new(
                        receiver.secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
                    ).hexdigest()
                    valid = hmac.compare_digest(expected, signature)
                receiver.calls.append({"headers": dict(self.headers), "body": body, "valid": valid})
                self.send_response(401 if valid is False else receiver.status)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()  # nothing listens on the port any more: connections are refused
            self.server = None


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(app: Any, smtp_server: SMTPServer) -> Any:
    """The app sending mail to the test SMTP server and allowed to call local webhooks, with short retries."""
    app.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_server.port,
        SMTP_TIMEOUT=5,
        MAIL_FROM="alerts@bos.test",
        WEBHOOK_ALLOW_PRIVATE=True,
        WEBHOOK_TIMEOUT=5,
        NOTIFY_MAX_ATTEMPTS=3,
        NOTIFY_RETRY_SECONDS=60,
        PUBLIC_BASE_URL="http://bos.test",
    )
    return app
