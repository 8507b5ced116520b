"""A small real HTTP server standing in for Log Center's report endpoint."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=lambda: {"message": "Log reported", "id": 1})
    # Read the request, then close the connection without answering (a reset after the commit).
    drop: bool = False


class FakeLogCenter:
    """Records every request and answers with the scripted replies, then 200 "Log reported"."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: deque[Reply] = deque()
        # Cleared by a test to hold requests inside the server (a slow or stuck Log Center).
        self.gate = threading.Event()
        self.gate.set()
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # Handler threads are joined on close, so no request outlives the test that made it.
        self._server.daemon_threads = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.requests) >= count, timeout=timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            return list(self.requests)

    def reports(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests]

    def _record(self, request: Received) -> Reply:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
            return self.replies.popleft() if self.replies else Reply()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = Received("POST", self.path, dict(self.headers.items()), json.loads(raw or b"{}"))
                reply = fake._record(received)
                fake.gate.wait(timeout=10)
                if reply.drop:
                    self.close_connection = True
                    return
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                fake._record(Received("GET", self.path, dict(self.headers.items()), {}))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        return Handler
