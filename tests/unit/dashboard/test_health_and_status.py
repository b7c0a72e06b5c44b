"""/healthz, the status API, the home page and the live status stream."""

from __future__ import annotations

import json
import os

from fastapi.testclient import TestClient
from sqlalchemy import text

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings
from configurable_agents.storage.migrations import head_revision


def test_healthz_says_only_up_or_down_per_part_without_the_token(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    # No process id, no database path, no revisions: nothing but up or down.
    assert response.json() == {
        "process": "dashboard",
        "status": "ok",
        "database": {"reachable": True},
        "schema": {"at_head": True},
    }


def test_healthz_gives_details_to_a_caller_holding_the_token(
    dashboard_settings: Settings, dashboard_database: Database
) -> None:
    from dashboard.app import create_app

    settings = dashboard_settings.model_copy(update={"dashboard_access_token": "tok-123"})
    with TestClient(create_app(settings, dashboard_database)) as guarded:
        anonymous = guarded.get("/healthz").json()
        detailed = guarded.get("/healthz", headers={"Authorization": "Bearer tok-123"}).json()
        wrong = guarded.get("/healthz", headers={"Authorization": "Bearer nope"}).json()

    assert "pid" not in anonymous and "url" not in anonymous["database"]
    assert wrong == anonymous
    assert detailed["pid"] == os.getpid()
    assert detailed["database"]["url"] == settings.effective_database_url
    assert detailed["schema"] == {
        "current": head_revision(),
        "head": head_revision(),
        "at_head": True,
    }


def test_healthz_is_503_when_schema_is_behind(
    client: TestClient, dashboard_database: Database
) -> None:
    with dashboard_database.engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "schema behind head"


def test_status_api_lists_services_runs_and_workers(client: TestClient) -> None:
    body = client.get("/api/v1/status").json()

    services = {service["name"]: service for service in body["services"]}
    assert set(services) == {"chat", "mlflow"}
    assert services["chat"]["healthy"] is False and services["chat"]["detail"] == "not running"
    assert body["database"]["reachable"] is True
    assert body["runs_by_state"]["queued"] == 0
    assert body["workers_alive"] == 0


def test_home_page_shows_services(client: TestClient) -> None:
    page = client.get("/")

    assert page.status_code == 200
    assert 'sse-connect="/events/status"' in page.text
    assert 'data-service="mlflow"' in page.text
    assert "Database unreachable" not in page.text


def test_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/").text
    assert "https://" not in page.split("<main")[0], "no asset may come from the network"
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert client.get("/static/vendor/htmx-ext-sse-2.2.4.js").status_code == 200


def test_unknown_page_is_a_friendly_404(client: TestClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "Not found" in page.text and "Traceback" not in page.text
    assert client.get("/api/v1/nothing").json() == {"detail": "Not Found"}


def test_status_stream_sends_the_snapshot(client: TestClient) -> None:
    with client.stream("GET", "/events/status?format=json") as stream:
        lines = stream.iter_lines()
        data = None
        for line in lines:
            if line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
                break
    assert data is not None
    assert data["database"]["at_head"] is True
