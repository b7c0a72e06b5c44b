"""CSRF on every state-changing request, escaping of everything user-made, no secret shown."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings, load_settings
from tests.unit.dashboard.conftest import SUMMARIZE_YAML, store_run, store_workflow

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# /login is the door (its cookie is SameSite=strict); the MLflow proxy checks same-origin.
NOT_CSRF_ROUTES = {"/login", "/mlflow/ui/{path:path}"}
# Authenticated by an HMAC signature or an agent's own token, and JSON bodies only.
SELF_AUTHENTICATED = {
    "/api/v1/hooks/{workflow}",
    "/api/v1/agents/register",
    "/api/v1/agents/{agent_id}/heartbeat",
    "/api/v1/agents/{agent_id}",
    "/api/v1/agents/{name}/runs",
}
XSS = "<script>alert(1)</script>"


def api_routes(routes: list[object]) -> list[APIRoute]:
    """Every APIRoute, also inside routers FastAPI keeps as included routers."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found += api_routes(inner.routes)
    return found


def state_changing_routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    for route in api_routes(client.app.routes):
        if route.path not in NOT_CSRF_ROUTES:
            for method in sorted(route.methods & UNSAFE):
                found.append((method, route.path))
    return found


def concrete(path: str, workflow_id: int, run_id: str) -> str:
    return (
        path.replace("{workflow_id}", str(workflow_id))
        .replace("{run_id}", run_id)
        .replace("{experiment_id}", "1")
        .replace("{workflow}", "summarize")
        .replace("{agent_id}", "a1")
        .replace("{name}", "summarizer")
    )


def test_every_state_changing_route_refuses_a_request_without_the_token(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    run_id = store_run(dashboard_database, workflow_id)
    routes = state_changing_routes(client)
    assert len(routes) >= 15, routes

    client.get("/")  # the browser has its cookie; a forged form cannot read it
    for method, path in routes:
        # What a cross-site form can send: a simple content type, no header, no field.
        answer = client.request(
            method,
            concrete(path, workflow_id, run_id),
            content="config_yaml=x&decision=approve",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        if path in SELF_AUTHENTICATED:
            assert 400 <= answer.status_code < 500, (method, path, answer.status_code)
            continue
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert "CSRF" in answer.text


def test_the_token_in_a_field_or_header_is_accepted(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    by_field = client.post(f"/workflows/{workflow_id}/duplicate", data={"csrf_token": csrf})
    assert by_field.status_code == 200
    by_header = client.post(f"/workflows/{workflow_id}/duplicate", headers={"X-CSRF-Token": csrf})
    assert by_header.status_code == 200
    wrong = client.post(f"/workflows/{workflow_id}/duplicate", headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403


def test_pages_carry_the_token_for_htmx_and_forms(client: TestClient, csrf: str) -> None:
    page = client.get("/workflows/new").text
    assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in page
    assert f'name="csrf_token" value="{csrf}"' in page
    cookie = client.get("/", headers={"cookie": ""}).headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_json_api_calls_need_no_token(client: TestClient) -> None:
    # A JSON body cannot be sent cross-site without a CORS preflight, which is never granted.
    assert client.post("/api/v1/validate", json={"config_yaml": SUMMARIZE_YAML}).status_code == 200
    form = client.post("/api/v1/validate", data={"config_yaml": SUMMARIZE_YAML})
    assert form.status_code == 403


def test_a_script_in_a_workflow_name_is_shown_as_text(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database, name=XSS, description=f"about {XSS}")
    store_run(dashboard_database, workflow_id, state="failed", error_message=XSS)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in (
        "/workflows",
        f"/workflows/{workflow_id}",
        "/runs",
        f"/workflows/{workflow_id}/delete",
    ):
        page = client.get(path).text
        assert XSS not in page, path
        assert escaped in page, path
    client.app.state.tick.latest = None
    home = client.get("/").text
    assert XSS not in home and escaped in home  # the recent-errors list


def test_html_in_an_llm_output_is_shown_as_text(
    client: TestClient, dashboard_database: Database
) -> None:
    output = '<img src=x onerror="alert(1)"><b>bold</b>'
    workflow_id = store_workflow(dashboard_database)
    run_id = store_run(
        dashboard_database,
        workflow_id,
        state="completed",
        inputs={"text": "<i>input</i>"},
        outputs={"summary": output},
        steps=[
            {
                "node": "summarize",
                "rendered_prompt": "Summarize: <i>input</i>",
                "raw_output": output,
                "output": {"summary": output},
            }
        ],
    )
    page = client.get(f"/runs/{run_id}").text
    assert "<img" not in page and "<b>bold</b>" not in page and "<i>input</i>" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&lt;b&gt;bold&lt;/b&gt;" in page


def test_graph_labels_are_escaped_in_svg(client: TestClient, dashboard_database: Database) -> None:
    text = SUMMARIZE_YAML.replace("{from: START, to: summarize}", "{from: START, to: '<b>'}")
    workflow_id = store_workflow(dashboard_database, text, name="bad-graph")
    page = client.get(f"/workflows/{workflow_id}").text
    svg = re.search(r"<svg class=\"graph\".*?</svg>", page, re.S).group(0)
    assert "<b>" not in svg


@pytest.fixture
def secret_settings(data_dir, monkeypatch: pytest.MonkeyPatch) -> Settings:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MY_PROVIDER_KEY", "sk-live-very-secret-value")
    return load_settings(
        data_dir=data_dir,
        dashboard_access_token="tok-en-that-must-not-show",
        database_url="postgresql://app:pa55word-hidden@db.example:5432/app",
        queue_url="redis://:redis-pass-hidden@cache:6379/0",
        llm_api_key_env="MY_PROVIDER_KEY",
    )


def test_settings_page_never_shows_a_secret(
    secret_settings: Settings, dashboard_database: Database
) -> None:
    from dashboard.app import create_app

    app = create_app(secret_settings, dashboard_database)
    client = TestClient(app)
    # No lifespan: the snapshot would try the example database URL.
    app.state.tick.latest = None
    headers = {"Authorization": "Bearer tok-en-that-must-not-show"}
    from datetime import UTC, datetime

    from configurable_agents.status.snapshot import DatabaseStatus, StatusSnapshot

    app.state.tick.latest = StatusSnapshot(
        taken_at=datetime.now(UTC), database=DatabaseStatus(url="hidden", reachable=True)
    )
    page = client.get("/settings", headers=headers).text

    for secret in (
        "tok-en-that-must-not-show",
        "pa55word-hidden",
        "redis-pass-hidden",
        "sk-live-very-secret-value",
    ):
        assert secret not in page, secret
    assert "postgresql+psycopg://app:***@db.example:5432/app" in page
    assert "MY_PROVIDER_KEY is set in the environment" in page
    assert 'data-setting="DASHBOARD_ACCESS_TOKEN"' in page and "(set)" in page
