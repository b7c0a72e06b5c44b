"""Agents, Orchestrator, Optimization and Settings pages."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Agent, utcnow
from configurable_agents.storage.repositories import agents
from tests.unit.dashboard.conftest import store_run, store_workflow


def test_agents_show_liveness_and_current_runs(
    client: TestClient, dashboard_database: Database
) -> None:
    with session_scope(dashboard_database.session_factory) as session:
        agents.register(session, name="fresh", agent_id="w-alive", ttl_seconds=15, concurrency=2)
        agents.register(session, name="quiet", agent_id="w-stale", ttl_seconds=15)
        agents.register(session, name="gone", agent_id="w-dead", ttl_seconds=15)
        session.get(Agent, "w-stale").last_heartbeat = utcnow() - timedelta(seconds=30)
        session.get(Agent, "w-dead").last_heartbeat = utcnow() - timedelta(minutes=5)
    run_id = store_run(
        dashboard_database, store_workflow(dashboard_database), state="running", worker_id="w-alive"
    )

    page = client.get("/agents").text
    assert 'data-agent="w-alive" data-liveness="alive"' in page
    assert 'data-agent="w-stale" data-liveness="stale"' in page
    assert 'data-agent="w-dead" data-liveness="dead"' in page
    assert f'href="/runs/{run_id}"' in page
    assert 'sse-connect="/events/status?topics=agents"' in page


def test_agents_page_without_workers_says_how_to_start_one(client: TestClient) -> None:
    assert "honcho start worker" in client.get("/agents").text


def test_orchestrator_shows_queue_age_runs_per_worker_and_limits(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    store_run(dashboard_database, workflow_id, created_at=utcnow() - timedelta(minutes=7))
    store_run(dashboard_database, workflow_id)
    store_run(dashboard_database, workflow_id, state="running", worker_id="w1")

    page = client.get("/orchestrator").text
    depth = page.split('data-figure="queue-depth"')[1].split("</div>")[0]
    assert '<span class="value">2</span>' in depth
    oldest = page.split('data-figure="oldest-queued"')[1].split("</div>")[0]
    assert "7 min ago" in oldest
    assert '<tr data-worker="w1"><td>w1</td><td>1</td></tr>' in page
    assert 'data-limit="WORKER_CONCURRENCY"' in page


def test_optimization_without_experiments_says_how_to_create_one(client: TestClient) -> None:
    page = client.get("/optimization").text
    assert 'data-empty="experiments"' in page and "/api/v1/experiments" in page


def test_settings_show_health_and_versions(client: TestClient) -> None:
    page = client.get("/settings").text
    assert 'data-service="chat"' in page and "not running" in page
    assert 'data-setting="DASHBOARD_PORT"' in page
    assert "sqlalchemy" in page and "htmx (vendored)" in page
    assert "no API key variable configured" in page


def test_orchestrator_dispatches_a_run_to_a_remote_agent(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    schema = {
        "type": "object",
        "properties": {"text": {"type": "string"}, "words": {"type": "integer"}},
        "required": ["text"],
    }
    with session_scope(dashboard_database.session_factory) as session:
        agents.register_remote(
            session, name="summarizer", url="http://10.0.0.5:8000", input_schema=schema
        )

    page = client.get("/orchestrator").text
    card = page.split('data-remote-agent="summarizer"')[1].split("</article>")[0]
    assert 'name="text"' in card and 'type="number" name="words"' in card

    missing = client.post(
        "/orchestrator/agents/summarizer/run", data={"words": "5", "csrf_token": csrf}
    )
    assert missing.status_code == 422
    card = missing.text.split('data-remote-agent="summarizer"')[1].split("</article>")[0]
    assert 'class="field invalid" data-field="text"' in card

    sent = client.post(
        "/orchestrator/agents/summarizer/run",
        data={"text": "hello", "words": "5", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    run_page = client.get(sent.headers["location"]).text
    assert "agent-summarizer" in run_page and "queued" in run_page
    assert (
        client.post("/orchestrator/agents/nobody/run", data={"csrf_token": csrf}).status_code == 409
    )
