"""Off loopback the dashboard needs an access token; with one it asks for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.settings import load_settings
from dashboard.server import check_access_rule


def test_non_loopback_without_token_refuses_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        check_access_rule(load_settings(dashboard_host="0.0.0.0"))

    assert stopped.value.code == 2
    assert "set DASHBOARD_ACCESS_TOKEN" in capsys.readouterr().err


def test_loopback_needs_no_token() -> None:
    check_access_rule(load_settings(dashboard_host="127.0.0.1"))


@pytest.fixture
def guarded(data_dir: Path, dashboard_database: Database) -> TestClient:
    from dashboard.app import create_app

    settings = load_settings(
        data_dir=data_dir, dashboard_host="0.0.0.0", dashboard_access_token="s3cret-token"
    )
    return TestClient(create_app(settings, dashboard_database))


def test_token_required_for_pages_and_api(guarded: TestClient) -> None:
    with guarded as client:
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert client.get("/api/v1/status").status_code == 401
        assert client.get("/healthz").status_code == 200


def test_bearer_token_opens_the_api(guarded: TestClient) -> None:
    with guarded as client:
        ok = client.get("/api/v1/status", headers={"Authorization": "Bearer s3cret-token"})
        wrong = client.get("/api/v1/status", headers={"Authorization": "Bearer nope"})
    assert ok.status_code == 200 and wrong.status_code == 401


def test_login_sets_a_cookie_without_the_token(guarded: TestClient) -> None:
    with guarded as client:
        bad = client.post("/login", data={"token": "nope", "next": "/"})
        assert bad.status_code == 401 and "not right" in bad.text
        good = client.post(
            "/login", data={"token": "s3cret-token", "next": "/"}, follow_redirects=False
        )
        assert good.status_code == 303
        assert "s3cret-token" not in good.headers["set-cookie"]
        assert client.get("/").status_code == 200


def test_webhooks_and_agent_heartbeats_authenticate_themselves(guarded: TestClient) -> None:
    with guarded as client:
        # No dashboard token: the route's own check answers, not the access check.
        hook = client.post("/api/v1/hooks/summarize", json={"inputs": {}})
        assert hook.status_code == 403 and "webhooks are off" in hook.text
        beat = client.post("/api/v1/agents/nope/heartbeat", headers={"Authorization": "Bearer x"})
        assert beat.status_code == 401 and "unknown agent or wrong token" in beat.text
        register = client.post(
            "/api/v1/agents/register", json={"name": "a", "url": "http://x.example"}
        )
        assert register.status_code == 401 and "access token" in register.text


def test_the_chat_frame_follows_the_host_the_browser_used_on_a_wildcard_binding() -> None:
    from starlette.requests import Request

    from dashboard.routes.chat import browser_chat_url

    def request(host: str) -> Request:
        return Request(
            {
                "type": "http",
                "scheme": "http",
                "path": "/chat",
                "query_string": b"",
                "headers": [(b"host", host.encode())],
                "server": ("0.0.0.0", 7861),
            }
        )

    wildcard = load_settings(chat_host="0.0.0.0", chat_port=7860, dashboard_access_token="t")
    # The login cookie belongs to the host the browser typed: the frame must use it too.
    assert browser_chat_url(wildcard, request("10.1.2.3:7861")) == "http://10.1.2.3:7860"
    loopback = load_settings(chat_host="127.0.0.1", chat_port=7860)
    assert browser_chat_url(loopback, request("localhost:7861")) == "http://127.0.0.1:7860"
