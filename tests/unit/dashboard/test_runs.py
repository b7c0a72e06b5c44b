"""Runs: filters, keyset pages deep in a long list, a run's steps, and its actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from configurable_agents.bootstrap import Database
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, new_id
from dashboard.queries import BadCursor, RunFilters, decode_cursor, runs_page
from tests.unit.dashboard.conftest import TYPED_YAML, store_run, store_workflow

HX = {"HX-Request": "true"}
RUN_LINK = re.compile(r'<tr data-run="([0-9a-f]{32})">')


def bulk_runs(database: Database, workflow_id: int, count: int, *, start: datetime) -> list[str]:
    """``count`` runs one second apart, newest last; some share a timestamp on purpose."""
    rows = []
    for index in range(count):
        # Pairs of runs with the same created_at: the cursor must break ties by id.
        moment = start + timedelta(seconds=index // 2)
        rows.append(
            {
                "id": new_id(),
                "workflow_id": workflow_id,
                "workflow_name": "summarize",
                "state": ("completed", "failed", "queued")[index % 3],
                "inputs": {"text": str(index)},
                "trigger": "api",
                "created_at": moment,
            }
        )
    with session_scope(database.session_factory) as session:
        session.execute(insert(Run), rows)
    return [row["id"] for row in rows]


def test_pages_walk_the_whole_list_once_in_order(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    bulk_runs(dashboard_database, workflow_id, 230, start=datetime(2025, 1, 1, tzinfo=UTC))

    seen: list[str] = []
    url = "/runs"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += RUN_LINK.findall(page.text)
        found = re.search(r'<a rel="next" href="([^"]+)" data-next-page>', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
        pages += 1
    assert pages == 5  # 50 per page
    assert len(seen) == len(set(seen)) == 230
    with session_scope(dashboard_database.session_factory) as session:
        expected = list(
            session.scalars(
                Run.__table__.select()
                .with_only_columns(Run.id)
                .order_by(Run.created_at.desc(), Run.id.desc())
            )
        )
    assert seen == expected


def test_filters_combine_with_pages(client: TestClient, dashboard_database: Database) -> None:
    workflow_id = store_workflow(dashboard_database)
    other = store_workflow(dashboard_database, TYPED_YAML)
    bulk_runs(dashboard_database, workflow_id, 120, start=datetime(2025, 3, 1, tzinfo=UTC))
    mine = store_run(
        dashboard_database, other, state="failed", created_at=datetime(2025, 3, 1, 5, tzinfo=UTC)
    )

    failed = client.get("/runs?state=failed")
    assert "data-next-page" not in failed.text  # 41 failed runs fit on one page
    assert len(RUN_LINK.findall(failed.text)) == 41
    assert all("state-failed" in row for row in failed.text.split("<tr data-run=")[1:])

    by_workflow = client.get(f"/runs?workflow={other}")
    assert RUN_LINK.findall(by_workflow.text) == [mine]

    one_day = client.get("/runs?since=2025-03-01&until=2025-03-01&state=completed").text
    assert len(RUN_LINK.findall(one_day)) == 40
    assert "No run matches these filters" in client.get("/runs?since=2030-01-01").text
    assert client.get("/runs?since=yesterday").status_code == 400
    assert client.get("/runs?workflow=abc").status_code == 400


def test_filter_swaps_only_the_table_for_htmx(
    client: TestClient, dashboard_database: Database
) -> None:
    store_run(dashboard_database, store_workflow(dashboard_database), state="completed")
    table = client.get("/runs?state=completed", headers={**HX, "HX-Target": "runs-table"})
    assert table.text.lstrip().startswith('<div id="runs-table">')


def test_a_forged_cursor_is_a_clear_400(client: TestClient) -> None:
    answer = client.get("/runs?cursor=not-a-cursor")
    assert answer.status_code == 400 and "cursor is not valid" in answer.text
    with pytest.raises(BadCursor):
        decode_cursor("%%%")


def test_keyset_query_on_sqlite_and_postgresql(session_factory) -> None:  # type: ignore[no-untyped-def]
    database = Database(engine=session_factory.kw["bind"], session_factory=session_factory)
    workflow_id = store_workflow(database)
    bulk_runs(database, workflow_id, 75, start=datetime(2025, 5, 1, tzinfo=UTC))
    with session_factory() as session:
        first = runs_page(session, RunFilters(), limit=30)
        second = runs_page(session, RunFilters(), cursor=first.next_cursor, limit=30)
        third = runs_page(session, RunFilters(), cursor=second.next_cursor, limit=30)
    ids = [run.id for page in (first, second, third) for run in page.runs]
    assert len(ids) == len(set(ids)) == 75
    assert third.next_cursor is None and len(third.runs) == 15


def test_run_page_shows_every_step(client: TestClient, dashboard_database: Database) -> None:
    workflow_id = store_workflow(dashboard_database)
    run_id = store_run(
        dashboard_database,
        workflow_id,
        state="failed",
        error_type="LLMError",
        error_message="the provider said no",
        mlflow_run_id="abc123",
        steps=[
            {
                "node": "summarize",
                "rendered_prompt": "Summarize in one sentence: hello",
                "raw_output": "Hello in short.",
                "output": {"summary": "Hello in short."},
                "provider": "local",
                "model": "smollm2-135m",
                "prompt_tokens": 12,
                "completion_tokens": 5,
                "cost": 0.0,
                "latency_ms": 231.0,
            },
            {
                "node": "summarize",
                "state": "failed",
                "error_type": "LLMError",
                "error_message": "the provider said no",
                "latency_ms": 10.0,
            },
        ],
    )
    page = client.get(f"/runs/{run_id}").text

    assert 'data-step="1"' in page and 'data-step="2"' in page
    assert "Summarize in one sentence: hello" in page and "Hello in short." in page
    assert "12+5 tokens" in page and "231 ms" in page and "smollm2-135m" in page
    assert "the provider said no" in page
    assert 'href="/mlflow?run=abc123"' in page
    assert ">Retry</button>" in page and ">Cancel</button>" not in page
    assert "sse-connect" not in page  # a finished run does not listen for changes


def test_a_live_run_page_listens_and_draws_progress(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    run_id = store_run(
        dashboard_database,
        workflow_id,
        state="running",
        steps=[{"node": "summarize", "output": {"summary": "x"}}],
    )
    page = client.get(f"/runs/{run_id}").text
    assert f'sse-connect="/events/status?run={run_id}"' in page
    assert 'hx-trigger="sse:run-steps"' in page
    assert 'class="seg state-completed" data-node="summarize"' in page
    assert ">Cancel</button>" in page
    body = client.get(f"/runs/{run_id}", headers={**HX, "HX-Target": "run-body"}).text
    assert body.lstrip().startswith('<div id="run-body"')


def test_cancel_a_queued_run_and_flag_a_running_one(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    queued = store_run(dashboard_database, workflow_id)
    running = store_run(dashboard_database, workflow_id, state="running")

    client.post(f"/runs/{queued}/cancel", data={"csrf_token": csrf})
    client.post(f"/runs/{running}/cancel", data={"csrf_token": csrf})
    with session_scope(dashboard_database.session_factory) as session:
        assert session.get(Run, queued).state == "cancelled"
        assert session.get(Run, running).cancel_requested is True

    again = client.post(f"/runs/{queued}/cancel", data={"csrf_token": csrf})
    assert again.status_code == 409 and "already cancelled" in again.text


def test_retry_starts_a_new_run_with_the_same_inputs(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    failed = store_run(dashboard_database, workflow_id, state="failed", inputs={"text": "again"})
    retried = client.post(
        f"/runs/{failed}/retry", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert retried.status_code == 303
    new_id_ = retried.headers["location"].rsplit("/", 1)[1]
    with session_scope(dashboard_database.session_factory) as session:
        run = session.get(Run, new_id_)
        assert run.state == "queued" and run.inputs == {"text": "again"} and run.trigger == "retry"
    done = store_run(dashboard_database, workflow_id, state="completed")
    assert client.post(f"/runs/{done}/retry", data={"csrf_token": csrf}).status_code == 409


def test_approve_and_reject_a_waiting_run(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    waiting = [
        store_run(
            dashboard_database,
            workflow_id,
            state="awaiting_approval",
            steps=[
                {"node": "summarize", "state": "awaiting_approval", "rendered_prompt": "Publish?"}
            ],
        )
        for _ in range(2)
    ]
    page = client.get(f"/runs/{waiting[0]}").text
    assert "Waiting for your approval" in page and 'value="reject"' in page

    client.post(
        f"/runs/{waiting[0]}/approve",
        data={"decision": "approve", "comment": "fine", "csrf_token": csrf},
    )
    client.post(f"/runs/{waiting[1]}/approve", data={"decision": "reject", "csrf_token": csrf})
    from configurable_agents.storage.repositories import steps

    with session_scope(dashboard_database.session_factory) as session:
        for run_id, approved in zip(waiting, (True, False), strict=True):
            assert session.get(Run, run_id).state == "queued"
            step = steps.list_for_run(session, run_id)[-1]
            assert step.output["decision"]["approved"] is approved
    assert (
        client.post(
            f"/runs/{waiting[0]}/approve", data={"decision": "maybe", "csrf_token": csrf}
        ).status_code
        == 422
    )


def test_the_run_page_and_its_json_show_the_timeline(
    client: TestClient, dashboard_database: Database
) -> None:
    from configurable_agents.storage.repositories import run_events

    run_id = store_run(dashboard_database, store_workflow(dashboard_database), epoch=2)
    with session_scope(dashboard_database.session_factory) as session:
        run_events.add(
            session, run_id, run_events.RECONCILED, "enqueued again: the queue held no message"
        )
        run_events.add(session, run_id, run_events.TAKEN_OVER, "taken over by cli", epoch=2)

    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert 'data-event="reconciled"' in page.text and "the queue held no message" in page.text
    assert 'data-event="taken_over"' in page.text and "epoch 2" in page.text
    timeline = client.get(f"/api/v1/runs/{run_id}/timeline").json()
    assert [(e["kind"], e["epoch"]) for e in timeline] == [("reconciled", None), ("taken_over", 2)]
    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert run["epoch"] == 2 and [e["kind"] for e in run["timeline"]] == [
        "reconciled",
        "taken_over",
    ]
    assert client.get("/api/v1/runs/nope/timeline").status_code == 404
