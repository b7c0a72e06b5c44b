"""A remote agent speaking the protocol of configurable_agents.engine.remote_agents:
GET /schema answers its input schema, POST / answers {"outputs": ...}. A real HTTP server
on 127.0.0.1 in a thread; it records the inputs it was given."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "What to shout", "minLength": 1},
        "times": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["text"],
}


class RemoteAgentStub:
    """Shouts its text ``times`` times."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/schema":
                    self._send(200, SCHEMA)
                else:
                    self._send(404, {"error": "no such path"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.received.append(body)
                inputs = body.get("inputs", {})
                shout = " ".join(
                    [str(inputs.get("text", "")).upper()] * int(inputs.get("times") or 1)
                )
                self._send(200, {"outputs": {"shout": shout}})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> RemoteAgentStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
