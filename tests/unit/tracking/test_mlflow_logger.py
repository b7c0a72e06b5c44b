"""Run records reach a real MLflow server as a run and a trace, once; the outbox sender
keeps them pending while MLflow is down and drains within its bound."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import (
    create_db_engine,
    make_session_factory,
    session_scope,
)
from configurable_agents.storage.migrations import upgrade_to_head
from configurable_agents.storage.repositories import outbox
from configurable_agents.tracking.mlflow_logger import (
    RUN_ID_TAG,
    RunRecord,
    SpanRecord,
    client_for,
    deliver,
    experiment_id_for,
    record_from_json,
    record_to_json,
)
from configurable_agents.tracking.outbox import OutboxSender
from tests.conftest import free_port
from tests.mlflow_server import running_mlflow


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_mlflow(tmp_path_factory.mktemp("mlflow"), free_port()) as url:
        yield url


@pytest.fixture
def factory(data_dir: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(f"sqlite:///{data_dir / 'app.db'}")
    upgrade_to_head(engine, data_dir)
    yield make_session_factory(engine)
    engine.dispose()


def make_record(run_id: str, workflow: str) -> RunRecord:
    now = time.time_ns()
    return RunRecord(
        run_id=run_id,
        workflow_name=workflow,
        state="completed",
        params={"provider": "openai", "model": "tiny"},
        metrics={"total_tokens": 42.0, "cost_usd": 0.001},
        start_ns=now - 2_000_000_000,
        end_ns=now,
        inputs={"text": "hello"},
        outputs={"summary": "hi"},
        spans=[
            SpanRecord(
                "summarize",
                "llm",
                now - 1_900_000_000,
                now - 1_000_000_000,
                {"prompt": "p"},
                {"summary": "s"},
            ),
            # A tool call of the summarize node: its span goes under the node's.
            SpanRecord(
                "summarize/calculator",
                "tool",
                now - 1_800_000_000,
                now - 1_700_000_000,
                {"expression": "6 * 7"},
                {"result": 42},
                parent="summarize",
            ),
            SpanRecord(
                "translate",
                "llm",
                now - 900_000_000,
                now - 100_000_000,
                {"prompt": "q"},
                None,
                error="boom",
            ),
        ],
    )


def store(factory: sessionmaker[Session], workflow: str) -> str:
    """A finished run with its record in the outbox, as the engine stores it."""
    with session_scope(factory) as session:
        run = run_lifecycle.create(session, workflow_name=workflow, inputs={}, trigger="cli")
        outbox.store_pending(session, run.id, record_to_json(make_record(run.id, workflow)))
        return run.id


def mlflow_runs_of(url: str, workflow: str, run_id: str) -> list[object]:
    client = client_for(url)
    experiment_id = experiment_id_for(client, workflow)
    return list(
        client.search_runs([experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'")
    )


def test_a_record_round_trips_through_json() -> None:
    record = make_record("r", "w")
    assert record_from_json(record_to_json(record)) == record


def test_run_and_trace_are_logged_once_however_often_delivered(mlflow_url: str) -> None:
    client = client_for(mlflow_url)
    record = make_record("run-1", "tracked-flow")

    first = deliver(client, record)
    again = deliver(client, record)  # a sender that died before the outbox said "sent"

    assert again == first
    run = client.get_run(first)
    assert run.data.metrics["total_tokens"] == 42.0
    assert run.data.params["model"] == "tiny"
    assert len(mlflow_runs_of(mlflow_url, "tracked-flow", "run-1")) == 1
    experiment = client.get_experiment_by_name("workflow:tracked-flow")
    [trace] = client.search_traces(locations=[experiment.experiment_id])
    spans = {span.name: span for span in trace.data.spans}
    assert set(spans) == {"tracked-flow", "summarize", "summarize/calculator", "translate"}
    assert str(spans["translate"].status.status_code).endswith("ERROR")
    root = spans["tracked-flow"].span_id
    assert spans["summarize"].parent_id == root and spans["translate"].parent_id == root
    assert spans["summarize/calculator"].parent_id == spans["summarize"].span_id
    assert spans["summarize/calculator"].span_type == "TOOL"


def test_a_half_written_run_is_replaced_by_a_whole_one(mlflow_url: str) -> None:
    client = client_for(mlflow_url)
    record = make_record("run-half", "half-flow")
    # What a sender killed mid-record leaves: the run, never terminated.
    half = client.create_run(
        experiment_id_for(client, "half-flow"), tags={RUN_ID_TAG: "run-half"}
    ).info.run_id

    delivered = deliver(client, record)

    assert delivered != half
    [found] = mlflow_runs_of(mlflow_url, "half-flow", "run-half")
    assert found.info.run_id == delivered and found.info.end_time  # type: ignore[attr-defined]


def test_pending_while_down_then_sent_once_by_one_of_two_senders(
    factory: sessionmaker[Session], mlflow_url: str
) -> None:
    run_ids = [store(factory, "outbox-flow") for _ in range(4)]
    down = OutboxSender(f"http://127.0.0.1:{free_port()}", factory, retry_max_seconds=5)

    down.deliver_due()

    with factory() as session:
        rows = [outbox.get(session, run_id) for run_id in run_ids]
        assert all(row is not None and row.state == "pending" for row in rows)
        assert all(
            row.last_error.startswith("MLflow unreachable at http://127.0.0.1:")  # type: ignore[union-attr]
            for row in rows
        )
        # Due again only after the backoff.
        assert list(outbox.due(session)) == []

    with session_scope(factory) as session:  # MLflow is back: make them due now
        for run_id in run_ids:
            outbox.get(session, run_id).next_attempt_at = outbox.utcnow()  # type: ignore[union-attr]
    senders = [OutboxSender(mlflow_url, factory) for _ in range(2)]
    for number, sender in enumerate(senders):
        sender.sender_id += f"-{number}"
    threads = [threading.Thread(target=sender.deliver_due) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    with factory() as session:
        assert outbox.counts(session) == {"pending": 0, "sent": 4, "failed": 0}
    for run_id in run_ids:
        assert len(mlflow_runs_of(mlflow_url, "outbox-flow", run_id)) == 1


def test_a_tracking_uri_mlflow_cannot_serve_fails_the_record_with_the_reason(
    factory: sessionmaker[Session],
) -> None:
    run_id = store(factory, "file-flow")

    OutboxSender("file:///tmp/mlruns", factory).deliver_due()

    with factory() as session:
        row = outbox.get(session, run_id)
        assert row is not None and row.state == "failed"
        assert "unsupported tracking URI file:///tmp/mlruns" in (row.last_error or "")


def test_drain_against_a_hanging_server_stops_within_its_bound_and_keeps_the_record(
    factory: sessionmaker[Session],
) -> None:
    # A socket that accepts connections but never answers: the worst kind of "down".
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    run_id = store(factory, "hanging-flow")
    sender = OutboxSender(f"http://127.0.0.1:{silent.getsockname()[1]}", factory).start()
    try:
        sender.wake()
        started = time.monotonic()
        sender.drain(1.0)
        waited = time.monotonic() - started
    finally:
        silent.close()

    # A bound on the stop, not a speed measurement: the probe alone may take 0.5 s.
    assert waited < 5.0
    with factory() as session:
        row = outbox.get(session, run_id)
        assert row is not None and row.state == "pending"
