"""What MLflow gets about a finished workflow run (a run with params and metrics, and a
trace with one span per node), and how one record is logged exactly once.

Nothing here runs on the workflow's path: the engine stores the record in the tracking
outbox with the run's end (storage/repositories/outbox.py) and a sender in each worker
delivers it (tracking/outbox.py), again and again while MLflow is down.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from configurable_agents.tracking.errors import MlflowRefused, MlflowUnavailable

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 0.5
# Seconds one MLflow request may take before the attempt counts as failed.
REQUEST_TIMEOUT = 5.0
EXPERIMENT_PREFIX = "workflow:"
RUN_ID_TAG = "configurable_agents.run_id"


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


def record_to_json(record: RunRecord) -> dict[str, Any]:
    """The record as JSON the outbox stores (values JSON cannot hold become text)."""
    return json.loads(json.dumps(asdict(record), default=str))


def record_from_json(data: dict[str, Any]) -> RunRecord:
    """The record the outbox stored."""
    spans = [SpanRecord(**span) for span in data.get("spans", [])]
    return RunRecord(**{**data, "spans": spans})


def client_for(tracking_uri: str) -> Any:
    """An MlflowClient that fails at once when the server is down instead of retrying for
    minutes (MLflow's defaults block about 246 s on one call)."""
    if not tracking_uri.startswith(("http://", "https://")):
        raise MlflowRefused(f"unsupported tracking URI {tracking_uri} (use http:// or https://)")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(REQUEST_TIMEOUT)))
    # Export traces synchronously in the sending thread, so a record is fully in MLflow
    # when it is marked sent.
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    import mlflow
    from mlflow import MlflowClient

    # Trace export reads the global tracking URI, not the client's: without this MLflow
    # would write traces to a local ./mlflow.db.
    mlflow.set_tracking_uri(tracking_uri)
    # MLflow prints a "View run at" line per run; the run record has the link.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=tracking_uri)


def reachable(tracking_uri: str) -> bool:
    """Whether the server answers /health within PROBE_TIMEOUT (a down server costs little)."""
    try:
        return httpx.get(f"{tracking_uri.rstrip('/')}/health", timeout=PROBE_TIMEOUT).is_success
    except httpx.HTTPError:
        return False


def deliver(client: Any, record: RunRecord, experiments: dict[str, str] | None = None) -> str:
    """Log a record once: returns the MLflow run id.

    A sender that died after MLflow had the run but before the outbox said so finds it
    here by its tag instead of logging it twice; a run it left half-written (not
    terminated) is deleted and logged again whole. ``experiments`` caches experiment ids
    by workflow name between calls.
    """
    from mlflow.exceptions import MlflowException

    cache = {} if experiments is None else experiments
    cached = record.workflow_name in cache
    try:
        experiment_id = cache.get(record.workflow_name)
        if experiment_id is None:
            experiment_id = cache[record.workflow_name] = experiment_id_for(
                client, record.workflow_name
            )
        for found in client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{RUN_ID_TAG}` = '{record.run_id}'",
            max_results=10,
        ):
            if found.info.end_time:
                return str(found.info.run_id)
            client.delete_run(found.info.run_id)
        return log_run(client, record, experiment_id)
    except MlflowException as error:
        if cached:
            # The experiment may be gone since it was cached (deleted, a new store): look
            # it up again at the next attempt before calling the record refused.
            cache.pop(record.workflow_name, None)
            raise MlflowUnavailable(_first_line(error)) from error
        code = getattr(error, "get_http_status_code", lambda: 500)()
        if 400 <= int(code) < 500 and int(code) not in (408, 429):
            raise MlflowRefused(_first_line(error)) from error
        raise MlflowUnavailable(_first_line(error)) from error
    except (OSError, httpx.HTTPError) as error:
        raise MlflowUnavailable(_first_line(error)) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    message = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {message[:300]}" if message else type(error).__name__


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


def log_run(client: Any, record: RunRecord, experiment_id: str | None = None) -> str:
    """Create the MLflow run with params/metrics and its trace; returns the MLflow run id."""
    from mlflow.entities import Metric, Param

    experiment_id = experiment_id or experiment_id_for(client, record.workflow_name)
    run = client.create_run(
        experiment_id,
        start_time=record.start_ns // 1_000_000,
        tags={RUN_ID_TAG: record.run_id, "workflow": record.workflow_name},
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
