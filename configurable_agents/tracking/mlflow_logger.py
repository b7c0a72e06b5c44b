"""Logs finished workflow runs to MLflow in the background: a run with params and metrics,
and a trace with one span per node.

Nothing here runs on the workflow's path: the engine hands a finished RunRecord to
:class:`RunTracker`, whose single background thread does the MLflow calls. When MLflow
is down the record says so ("skipped: ...") and the workflow never waited for it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# After a failed probe, do not probe again for this long: a down server costs nothing.
DOWN_CACHE_SECONDS = 10.0
PROBE_TIMEOUT = 0.5
EXPERIMENT_PREFIX = "workflow:"


@dataclass
class SpanRecord:
    """One node execution, as the trace shows it."""

    name: str
    kind: str
    start_ns: int
    end_ns: int
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # The name of the span this one belongs under (a tool call under its node); the
    # trace's root when None or not found.
    parent: str | None = None


@dataclass
class RunRecord:
    """Everything MLflow gets about one workflow run."""

    run_id: str
    workflow_name: str
    state: str
    params: dict[str, str]
    metrics: dict[str, float]
    start_ns: int
    end_ns: int
    inputs: Any = None
    outputs: Any = None
    spans: list[SpanRecord] = field(default_factory=list)


# Called with (run_id, mlflow_run_id or None, tracking status text).
ResultCallback = Callable[[str, str | None, str], None]


class RunTracker:
    """One background thread per process that logs run records to MLflow."""

    def __init__(self, tracking_uri: str, on_result: ResultCallback | None = None) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.on_result = on_result
        self._queue: queue.Queue[RunRecord | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._client: Any = None

    def submit(self, record: RunRecord) -> None:
        """Queue a record; returns at once."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="mlflow-tracker", daemon=True
                )
                self._thread.start()
        self._queue.put(record)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued record is handled (tests and clean shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def _loop(self) -> None:
        while True:
            record = self._queue.get()
            try:
                if record is None:
                    return
                mlflow_run_id, status = self._log(record)
                if self.on_result is not None:
                    self.on_result(record.run_id, mlflow_run_id, status)
            except Exception:  # the tracker must never die
                log.exception("tracking callback failed")
            finally:
                self._queue.task_done()

    def _reachable(self) -> bool:
        if time.monotonic() < self._down_until:
            return False
        import httpx

        try:
            ok = httpx.get(f"{self.tracking_uri}/health", timeout=PROBE_TIMEOUT).is_success
        except httpx.HTTPError:
            ok = False
        if not ok:
            self._down_until = time.monotonic() + DOWN_CACHE_SECONDS
        return ok

    def _log(self, record: RunRecord) -> tuple[str | None, str]:
        if not self.tracking_uri.startswith(("http://", "https://")):
            return None, f"skipped: unsupported tracking URI {self.tracking_uri}"
        if not self._reachable():
            return None, f"skipped: MLflow unreachable at {self.tracking_uri}"
        try:
            return log_run(self._get_client(), record), "logged"
        except Exception as error:
            self._down_until = time.monotonic() + DOWN_CACHE_SECONDS
            message = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            return None, f"skipped: {type(error).__name__}: {message[:300]}"

    def _get_client(self) -> Any:
        if self._client is None:
            import os

            # Export traces synchronously in this (background) thread, so a record is
            # fully in MLflow when its callback runs.
            os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
            import mlflow
            from mlflow import MlflowClient

            # Trace export reads the global tracking URI, not the client's: without this
            # MLflow would write traces to a local ./mlflow.db.
            mlflow.set_tracking_uri(self.tracking_uri)
            # MLflow prints a "View run at" line per run; the run record has the link.
            logging.getLogger("mlflow").setLevel(logging.WARNING)
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client


def experiment_id_for(client: Any, workflow_name: str) -> str:
    """The MLflow experiment of a workflow, created on first use."""
    name = f"{EXPERIMENT_PREFIX}{workflow_name}"
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name))
    except Exception:
        # Another worker created it in between.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)


def log_run(client: Any, record: RunRecord) -> str:
    """Create the MLflow run with params/metrics and its trace; returns the MLflow run id."""
    from mlflow.entities import Metric, Param

    experiment_id = experiment_id_for(client, record.workflow_name)
    run = client.create_run(
        experiment_id,
        start_time=record.start_ns // 1_000_000,
        tags={"configurable_agents.run_id": record.run_id, "workflow": record.workflow_name},
        run_name=f"{record.workflow_name}-{record.run_id[:8]}",
    )
    mlflow_run_id = run.info.run_id
    timestamp = record.end_ns // 1_000_000
    client.log_batch(
        mlflow_run_id,
        metrics=[Metric(key, float(value), timestamp, 0) for key, value in record.metrics.items()],
        params=[Param(key, str(value)[:6000]) for key, value in record.params.items()],
    )
    root = client.start_trace(
        name=record.workflow_name,
        span_type="CHAIN",
        inputs=record.inputs,
        attributes={"run_id": record.run_id},
        experiment_id=experiment_id,
        start_time_ns=record.start_ns,
        run_id=mlflow_run_id,
    )
    opened: dict[str, str] = {}
    for span in record.spans:
        child = client.start_span(
            name=span.name,
            trace_id=root.trace_id,
            parent_id=opened.get(span.parent or "", root.span_id),
            span_type="LLM" if span.kind == "llm" else "TOOL" if span.kind == "tool" else "CHAIN",
            inputs=span.inputs,
            attributes=span.attributes,
            start_time_ns=span.start_ns,
        )
        if span.parent is None:
            opened[span.name] = child.span_id
        client.end_span(
            trace_id=root.trace_id,
            span_id=child.span_id,
            outputs=span.outputs,
            attributes={"error": span.error} if span.error else None,
            status="ERROR" if span.error else "OK",
            end_time_ns=span.end_ns,
        )
    client.end_trace(
        trace_id=root.trace_id,
        outputs=record.outputs,
        status="OK" if record.state == "completed" else "ERROR",
        end_time_ns=record.end_ns,
    )
    client.set_terminated(
        mlflow_run_id,
        status="FINISHED" if record.state == "completed" else "FAILED",
        end_time=timestamp,
    )
    return str(mlflow_run_id)
