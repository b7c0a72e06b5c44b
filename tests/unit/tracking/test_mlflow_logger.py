"""Run records reach a real MLflow server as a run and a trace; a down server is skipped fast."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from configurable_agents.tracking.mlflow_logger import RunRecord, RunTracker, SpanRecord
from tests.conftest import free_port
from tests.mlflow_server import running_mlflow


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_mlflow(tmp_path_factory.mktemp("mlflow"), free_port()) as url:
        yield url


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


def test_run_and_trace_are_logged(mlflow_url: str) -> None:
    from mlflow import MlflowClient

    results: list[tuple[str, str | None, str]] = []
    tracker = RunTracker(mlflow_url, on_result=lambda *result: results.append(result))
    tracker.submit(make_record("run-1", "tracked-flow"))
    assert tracker.flush()

    [(run_id, mlflow_run_id, status)] = results
    assert (run_id, status) == ("run-1", "logged")
    client = MlflowClient(mlflow_url)
    run = client.get_run(mlflow_run_id)
    assert run.data.metrics["total_tokens"] == 42.0
    assert run.data.params["model"] == "tiny"
    experiment = client.get_experiment_by_name("workflow:tracked-flow")
    [trace] = client.search_traces(locations=[experiment.experiment_id])
    spans = {span.name: span for span in trace.data.spans}
    assert set(spans) == {"tracked-flow", "summarize", "summarize/calculator", "translate"}
    assert str(spans["translate"].status.status_code).endswith("ERROR")
    root = spans["tracked-flow"].span_id
    assert spans["summarize"].parent_id == root and spans["translate"].parent_id == root
    assert spans["summarize/calculator"].parent_id == spans["summarize"].span_id
    assert spans["summarize/calculator"].span_type == "TOOL"


def test_hanging_server_is_skipped_and_never_holds_the_caller() -> None:
    # A socket that accepts connections but never answers: the worst kind of "down".
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    results: list[tuple[str, str | None, str]] = []
    tracker = RunTracker(
        f"http://127.0.0.1:{silent.getsockname()[1]}", on_result=lambda *r: results.append(r)
    )
    try:
        tracker.submit(make_record("run-2", "untracked"))
        assert results == []  # submit returned while the probe still waits
        assert tracker.flush(timeout=10)
    finally:
        silent.close()

    [(_, mlflow_run_id, status)] = results
    assert mlflow_run_id is None
    assert status.startswith("skipped: MLflow unreachable at http://127.0.0.1:")


def test_refused_connection_is_skipped() -> None:
    results: list[tuple[str, str | None, str]] = []
    tracker = RunTracker(f"http://127.0.0.1:{free_port()}", on_result=lambda *r: results.append(r))
    tracker.submit(make_record("run-3", "untracked"))
    assert tracker.flush(timeout=10)
    assert results[0][2].startswith("skipped: MLflow unreachable")
