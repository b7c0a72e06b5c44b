"""The run page (and /api/v1/runs/{id}) says where the run's MLflow record stands; the
workflow page (and /api/v1/workflows/{id}) lists its schedule ticks with their outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import utcnow
from configurable_agents.storage.repositories import outbox, triggers
from tests.unit.dashboard.conftest import SUMMARIZE_YAML, store_run, store_workflow


def finished_run(database: Database, settle: str) -> str:
    """A completed run whose record is pending, sent or failed (as the sender leaves it)."""
    run_id = store_run(database, store_workflow(database), state="completed")
    with session_scope(database.session_factory) as session:
        outbox.store_pending(session, run_id, {"run_id": run_id})
        if settle != "new":
            outbox.claim(session, run_id, sender="s", seconds=60)
        if settle == "pending":
            outbox.mark_retry(
                session,
                run_id,
                sender="s",
                error="MLflow unreachable at http://127.0.0.1:5000 (attempt 1)",
                next_attempt_at=utcnow() + timedelta(seconds=8),
            )
        elif settle == "sent":
            outbox.mark_sent(session, run_id, sender="s", mlflow_run_id="abc123")
        elif settle == "failed":
            outbox.mark_failed(session, run_id, sender="s", error="INVALID_PARAMETER_VALUE: x")
    return run_id


@pytest.mark.parametrize(
    ("settle", "reason"),
    [
        ("pending", "MLflow unreachable at http://127.0.0.1:5000 (attempt 1)"),
        ("sent", None),
        ("failed", "INVALID_PARAMETER_VALUE: x"),
    ],
)
def test_the_run_says_where_its_mlflow_record_stands(
    client: TestClient, dashboard_database: Database, settle: str, reason: str | None
) -> None:
    run_id = finished_run(dashboard_database, settle)

    body = client.get(f"/api/v1/runs/{run_id}").json()
    page = client.get(f"/runs/{run_id}").text

    assert body["tracking"]["state"] == settle and body["tracking"]["reason"] == reason
    assert body["tracking"]["attempts"] == 1
    assert (body["tracking"]["next_attempt_at"] is not None) == (settle == "pending")
    assert f'data-tracking="{settle}"' in page
    if reason:
        assert reason in page
    if settle == "sent":
        assert body["tracking"]["mlflow_run_id"] == "abc123"
        assert '/mlflow?run=abc123"' in page


def test_a_running_run_has_no_tracking_yet(
    client: TestClient, dashboard_database: Database
) -> None:
    run_id = store_run(dashboard_database, store_workflow(dashboard_database), state="running")

    assert client.get(f"/api/v1/runs/{run_id}").json()["tracking"] is None
    assert "data-tracking=" not in client.get(f"/runs/{run_id}").text


SCHEDULED = SUMMARIZE_YAML + (
    "schedules:\n  - cron: '*/10 * * * *'\n    inputs: {text: hi}\n    catch_up: latest\n"
)


def test_the_workflow_page_lists_its_ticks_with_their_outcomes(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database, SCHEDULED)
    run_id = store_run(dashboard_database, workflow_id, trigger="schedule")
    prefix = "schedule#0 */10 * * * *@2026-03-02T"
    with session_scope(dashboard_database.session_factory) as session:
        for time, outcome, detail, run in (
            ("11:50:00Z", "skipped", "missed: no worker checked it in time (904 s late)", None),
            ("12:00:00Z", "started", "cron */10 * * * *", run_id),
            ("12:10:00Z", "refused", "refused: the queue is full", None),
        ):
            triggers.record(
                session,
                workflow_name="summarize",
                kind="schedule",
                key=prefix + time,
                detail=detail,
                outcome=outcome,
                run_id=run,
            )

    ticks = client.get(f"/api/v1/workflows/{workflow_id}").json()["schedule_ticks"]
    page = client.get(f"/workflows/{workflow_id}").text

    assert [(t["outcome"], t["tick_at"][11:16], t["run_id"]) for t in ticks] == [
        ("refused", "12:10", None),
        ("started", "12:00", run_id),
        ("skipped", "11:50", None),
    ]
    assert {t["schedule"] for t in ticks} == {"*/10 * * * *"}
    assert page.count("data-tick-outcome=") == 3
    assert "refused: the queue is full" in page and f'href="/runs/{run_id}"' in page
    assert "missed ticks: <strong>latest</strong>" in page


def test_a_workflow_without_schedules_shows_no_tick_section(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)

    assert 'data-section="schedule-ticks"' not in client.get(f"/workflows/{workflow_id}").text
    assert client.get(f"/api/v1/workflows/{workflow_id}").json()["schedule_ticks"] == []
