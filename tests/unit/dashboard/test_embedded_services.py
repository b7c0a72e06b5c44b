"""Chat and MLflow inside the workspace: a frame when up, a clear page when down, and
MLflow's UI reverse-proxied under the dashboard's origin (it forbids foreign frames)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.settings import load_settings


class FakeService(BaseHTTPRequestHandler):
    """A small real HTTP server standing in for Gradio and MLflow."""

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path in ("/healthz", "/health"):
            self._send(200, b"OK", "text/plain")
        elif self.path.startswith("/static-files/app.js"):
            self._send(200, b"console.log('mlflow ui')", "application/javascript")
        else:
            page = b'<html><script src="static-files/app.js"></script>MLflow UI</html>'
            self._send(200, page, "text/html", {"X-Frame-Options": "SAMEORIGIN"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        echo = {
            "path": self.path,
            "body": self.rfile.read(length).decode(),
            "host": self.headers.get("Host"),
            "cookie": self.headers.get("Cookie"),
            "origin": self.headers.get("Origin"),
        }
        self._send(200, json.dumps(echo).encode(), "application/json")


@pytest.fixture
def fake_service() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def up_client(
    data_dir: Path, dashboard_database: Database, fake_service: int
) -> Iterator[TestClient]:
    from dashboard.app import create_app

    settings = load_settings(data_dir=data_dir, chat_port=fake_service, mlflow_port=fake_service)
    with TestClient(create_app(settings, dashboard_database)) as client:
        yield client


def test_chat_down_says_how_to_start_it(client: TestClient) -> None:
    page = client.get("/chat?workflow=3")
    assert page.status_code == 200
    assert 'data-service-down="chat"' in page.text and "honcho start chat" in page.text
    assert "<iframe" not in page.text


def test_chat_up_is_embedded_with_the_workflow(up_client: TestClient, fake_service: int) -> None:
    page = up_client.get("/chat?workflow=3").text
    assert f'<iframe class="embedded" src="http://127.0.0.1:{fake_service}/?workflow=3"' in page


def test_mlflow_down_says_so(client: TestClient) -> None:
    page = client.get("/mlflow").text
    assert 'data-service-down="mlflow"' in page and "honcho start mlflow" in page
    proxied = client.get("/mlflow/ui/")
    assert proxied.status_code == 502 and "MLflow is not running" in proxied.text


def test_mlflow_is_framed_through_the_same_origin_proxy(up_client: TestClient) -> None:
    page = up_client.get("/mlflow?run=abc").text
    assert '<iframe class="embedded" src="/mlflow/ui/#/runs/abc"' in page

    assert up_client.get("/mlflow/ui", follow_redirects=False).headers["location"] == "/mlflow/ui/"
    ui = up_client.get("/mlflow/ui/")
    assert ui.status_code == 200 and "MLflow UI" in ui.text
    # Same-origin now, so MLflow's own SAMEORIGIN rule lets the dashboard frame it.
    assert ui.headers["x-frame-options"] == "SAMEORIGIN"
    asset = up_client.get("/mlflow/ui/static-files/app.js")
    assert asset.text == "console.log('mlflow ui')"


def test_the_proxy_forwards_same_origin_calls_without_our_cookies(
    up_client: TestClient, fake_service: int
) -> None:
    up_client.get("/")  # the browser now holds the dashboard's cookies
    answer = up_client.post(
        "/mlflow/ui/ajax-api/2.0/mlflow/runs/search?x=1",
        json={"max_results": 1},
        headers={"Sec-Fetch-Site": "same-origin"},
    ).json()
    assert answer["path"] == "/ajax-api/2.0/mlflow/runs/search?x=1"
    assert json.loads(answer["body"]) == {"max_results": 1}
    assert answer["host"] == f"127.0.0.1:{fake_service}"
    assert answer["cookie"] is None and answer["origin"] is None


def test_the_proxy_refuses_cross_site_writes(up_client: TestClient) -> None:
    cross = up_client.post(
        "/mlflow/ui/ajax-api/2.0/mlflow/experiments/delete",
        json={"experiment_id": "0"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    no_origin = up_client.post("/mlflow/ui/ajax-api/2.0/mlflow/experiments/delete", json={})
    assert no_origin.status_code == 403
