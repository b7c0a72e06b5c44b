"""The dashboard's unauthenticated doors, against the real `python -m dashboard`.

Webhooks: a flood of forged posts changes counters, not the number of rows.

Registering a remote agent makes the dashboard fetch ``<url>/schema``: with a tiny local
HTTP server, only http(s) URLs are fetched, redirects are followed on the agent's own host
only, the body and the time are bounded, and each refusal is a 422 saying why; nothing is
registered by a refused call.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from configurable_agents.engine.remote_agents import SCHEMA_FETCH_SECONDS, SCHEMA_MAX_BYTES
from tests.conftest import free_port
from tests.e2e.conftest import Launcher
from tests.e2e.serviceset import (
    app_database_url,
    process_environment,
    run_until_exit,
    settings_environment,
)

pytestmark = pytest.mark.e2e

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


class AgentSite(http.server.BaseHTTPRequestHandler):
    """/ok, /same (redirects on this host), /elsewhere (to another host), /big, /slow."""

    other_origin = ""
    fetched: list[str] = []

    def do_GET(self) -> None:
        self.fetched.append(self.path)
        if self.path == "/ok/schema":
            self.answer(json.dumps(SCHEMA).encode())
        elif self.path == "/same/schema":
            self.redirect("/ok/schema")
        elif self.path == "/elsewhere/schema":
            self.redirect(f"{self.other_origin}/ok/schema")
        elif self.path == "/big/schema":
            padding = "x" * (SCHEMA_MAX_BYTES + 10)
            self.answer(json.dumps({**SCHEMA, "description": padding}).encode(), length=False)
        elif self.path == "/slow/schema":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            # A byte at a time: each read is quick, the whole answer never ends in time.
            for _ in range(int(SCHEMA_FETCH_SECONDS * 8)):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.5)
        else:
            self.send_error(404)

    def answer(self, body: bytes, length: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def agent_site() -> Iterator[str]:
    """The site on 127.0.0.1; the same server as http://localhost is "another host"."""
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), AgentSite)
    server.daemon_threads = True
    AgentSite.other_origin = f"http://localhost:{port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def settings_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("doors") / "var"
    return settings_environment(data_dir, WEBHOOK_SECRET_ENV="DOORS_WEBHOOK_SECRET")


@pytest.fixture(scope="module")
def dashboard(module_launcher: Launcher, settings_env: dict[str, str]) -> str:
    # Migrates and seeds the example workflows (summarize among them).
    released = run_until_exit(
        [sys.executable, "-m", "configurable_agents", "release"], process_environment(settings_env)
    )
    assert released.returncode == 0, released.stdout
    process = module_launcher.start(
        {**settings_env, "DOORS_WEBHOOK_SECRET": "the-real-secret"},
        [sys.executable, "-m", "dashboard"],
    )
    process.wait_healthy(["dashboard"], timeout=60)
    return process.url("dashboard")


def register(dashboard: str, name: str, url: str) -> httpx.Response:
    return httpx.post(
        f"{dashboard}/api/v1/agents/register", json={"name": name, "url": url}, timeout=30
    )


def registered_names(dashboard: str) -> set[str]:
    answer = httpx.get(f"{dashboard}/api/v1/agents/remote", timeout=10)
    assert answer.status_code == 200, answer.text
    return {agent["name"] for agent in answer.json()}


def rows(settings_env: dict[str, str], table: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(app_database_url(settings_env))
    try:
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def test_a_flood_of_forged_webhooks_is_counted_not_stored(
    dashboard: str, settings_env: dict[str, str]
) -> None:
    body = b'{"text": "forged"}'
    before = {
        table: rows(settings_env, table) for table in ("trigger_events", "refusal_counts", "runs")
    }

    with httpx.Client(base_url=dashboard, timeout=10) as client:
        for number in range(200):
            name = "summarize" if number % 2 else f"made-up-{number}"
            answer = client.post(
                f"/api/v1/hooks/{name}",
                content=body,
                headers={"X-Delivery-Id": f"f-{number}", "X-Signature-256": "sha256=" + "0" * 64},
            )
            assert answer.status_code == 401, answer.text
        shown = client.get("/api/v1/hooks").json()

    assert rows(settings_env, "trigger_events") == before["trigger_events"]
    assert rows(settings_env, "runs") == before["runs"]
    assert rows(settings_env, "refusal_counts") <= before["refusal_counts"] + 2
    counted = {(r["workflow"], r["status"], r["reason"]): r["count"] for r in shown["refused"]}
    assert counted == {
        ("summarize", 401, "signature does not match"): 100,
        (None, 401, "signature does not match"): 100,
    }


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "is not an http:// or https:// URL"),
        ("ftp://127.0.0.1/x", "is not an http:// or https:// URL"),
        ("gopher://127.0.0.1:70/x", "is not an http:// or https:// URL"),
        ("http://127.0.0.1:notaport", "is not a valid URL"),
    ],
)
def test_only_http_urls_are_fetched(dashboard: str, url: str, says: str) -> None:
    answer = register(dashboard, "not-http", url)

    assert answer.status_code == 422, answer.text
    assert says in answer.json()["detail"]
    assert "not-http" not in registered_names(dashboard)


def test_a_redirect_to_another_host_is_not_followed(dashboard: str, agent_site: str) -> None:
    AgentSite.fetched.clear()
    answer = register(dashboard, "elsewhere", f"{agent_site}/elsewhere")

    assert answer.status_code == 422, answer.text
    assert "redirects to http://localhost:" in answer.json()["detail"]
    assert "another host" in answer.json()["detail"]
    assert AgentSite.fetched == ["/elsewhere/schema"], "the other host was fetched"
    assert "elsewhere" not in registered_names(dashboard)


def test_a_redirect_on_the_agents_own_host_is_followed(dashboard: str, agent_site: str) -> None:
    answer = register(dashboard, "same-host", f"{agent_site}/same")

    assert answer.status_code == 201, answer.text
    assert answer.json()["input_schema"] == SCHEMA


def test_an_oversized_schema_is_refused(dashboard: str, agent_site: str) -> None:
    answer = register(dashboard, "big", f"{agent_site}/big")

    assert answer.status_code == 422, answer.text
    assert "too large for an input schema" in answer.json()["detail"]
    assert "big" not in registered_names(dashboard)


def test_a_slow_server_is_given_up_on_in_time(dashboard: str, agent_site: str) -> None:
    started = time.monotonic()
    answer = register(dashboard, "slow", f"{agent_site}/slow")
    took = time.monotonic() - started

    assert answer.status_code == 422, answer.text
    assert f"did not answer within {SCHEMA_FETCH_SECONDS:g} s" in answer.json()["detail"]
    # Given up on long before the server's 4 x SCHEMA_FETCH_SECONDS of trickling ends.
    assert took < SCHEMA_FETCH_SECONDS * 3, took
    assert "slow" not in registered_names(dashboard)


def test_the_limits_are_what_the_readme_says() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"{SCHEMA_MAX_BYTES // 1024} KiB" in readme
    assert f"{SCHEMA_FETCH_SECONDS:g} s" in readme
