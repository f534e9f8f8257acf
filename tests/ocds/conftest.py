"""Shared fixtures for the OCDS layer: where the shared data lives, and a loopback HTTP server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bos.ocds.schema import SchemaSource

# The shared data sits beside the repository (…/shared/ocds); CI checks it out there too.
_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "ocds"
SCHEMA_DIR = Path(os.environ.get("BOS_OCDS_SCHEMA_DIR", _SHARED / "schema"))
EXTENSIONS_DIR = Path(os.environ.get("BOS_OCDS_EXTENSIONS_DIR", _SHARED / "extensions"))
SAMPLES_DIR = Path(os.environ.get("BOS_OCDS_SAMPLES_DIR", _SHARED / "samples"))
FICTIONAL_DIR = SAMPLES_DIR / "fictional-example"
FICTIONAL_PACKAGE = FICTIONAL_DIR / "ocds-213czf-000-00001.json"


@pytest.fixture(scope="session")
def source() -> SchemaSource:
    for path in (SCHEMA_DIR, EXTENSIONS_DIR, SAMPLES_DIR):
        if not path.is_dir():
            pytest.fail(f"shared OCDS data missing: {path} (set BOS_OCDS_*_DIR)")
    return SchemaSource(schema_dir=SCHEMA_DIR, extensions_dir=EXTENSIONS_DIR)


@dataclass
class Route:
    """Responses for one path, served in turn; the last one repeats."""

    responses: list[tuple[int, bytes, str]]
    hits: int = 0


@dataclass
class LoopbackServer:
    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def add(self, path: str, *responses: tuple[int, bytes, str]) -> str:
        self.routes[path] = Route(list(responses))
        return self.base_url + path

    def add_json(self, path: str, body: bytes, content_type: str = "application/json") -> str:
        return self.add(path, (200, body, content_type))


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 (port chosen by the OS), in a thread, with scripted responses."""
    state = LoopbackServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.log.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                status, body, content_type = 404, b"not found", "text/plain"
            else:
                status, body, content_type = route.responses[min(route.hits, len(route.responses) - 1)]
                route.hits += 1
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
