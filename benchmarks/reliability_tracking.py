"""Reliability benchmark, MLflow faults: the tracking outbox through an MLflow outage under
load and a worker stopped with SIGTERM while records wait.

For each fault: records lost (goal 0), duplicates in MLflow (goal 0), and the time from
MLflow's return to each waiting record's delivery, p50 / p95. ``measure`` is what
benchmarks/reliability.py calls; run alone from the repo root:

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/reliability_tracking.py [--outage 30]

(PostgreSQL and Redis on 127.0.0.1 for the scale-out stack). Writes
benchmarks/results/reliability_tracking.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/queue.py must not shadow the standard library's queue (psycopg imports it).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.append(str(HERE))  # after the standard library: sibling benchmarks stay importable

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the cluster helpers live with the queue tests

from configurable_agents.storage.models import TrackingRecord  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.databases import temporary_postgres_database  # noqa: E402
from tests.fakes.openai_server import FakeLLMServer  # noqa: E402
from tests.integration.queue.cluster import Cluster, flush_redis, three_node_workflow  # noqa: E402
from tests.integration.queue.test_tracking_outbox import (  # noqa: E402
    Load,
    mlflow_runs_per_run_id,
)
from tests.mlflow_server import MlflowServer  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "reliability_tracking.json"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
RETRY_MAX_SECONDS = 5.0
DELIVERY_BOUND = 120.0


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)


def _records(cluster: Cluster, run_ids: list[str]) -> dict[str, TrackingRecord]:
    with cluster.session_factory() as session:
        rows = [session.get(TrackingRecord, run_id) for run_id in run_ids]
        for row in rows:
            if row is not None:
                session.expunge(row)
    return {row.run_id: row for row in rows if row is not None}


def _wait_delivered(cluster: Cluster, run_ids: list[str]) -> None:
    deadline = time.monotonic() + DELIVERY_BOUND
    while time.monotonic() < deadline:
        rows = _records(cluster, run_ids)
        if len(rows) == len(run_ids) and all(row.state != "pending" for row in rows.values()):
            return
        time.sleep(0.2)


def _fault(
    cluster: Cluster, mlflow: MlflowServer, waiting: list[str], back_at: datetime
) -> dict[str, Any]:
    """Lost, duplicated and time to delivery of the records that waited for MLflow."""
    _wait_delivered(cluster, waiting)
    rows = _records(cluster, waiting)
    seen = mlflow_runs_per_run_id(mlflow.url)
    delays = [
        (row.sent_at - back_at).total_seconds()
        for row in rows.values()
        if row.state == "sent" and row.sent_at is not None
    ]
    return {
        "records_waiting": len(waiting),
        "records_lost": sum(1 for run_id in waiting if seen[run_id] == 0),
        "duplicates": sum(max(seen[run_id] - 1, 0) for run_id in waiting),
        "delivery_after_return_p50_s": _percentile(delays, 0.5),
        "delivery_after_return_p95_s": _percentile(delays, 0.95),
    }


def run_stack(
    name: str, database_url: str, queue_url: str, workdir: Path, outage: float, rate: float
) -> dict[str, Any]:
    """Both faults on one stack: an outage under load, then a SIGTERM with records waiting."""
    with FakeLLMServer() as llm:
        mlflow = MlflowServer(workdir / "mlflow", free_port())
        cluster = Cluster(
            workdir,
            database_url,
            queue_url,
            env={
                "LLM_PROVIDER": "openai",
                "LLM_BASE_URL": llm.base_url,
                "LLM_MODEL": "fake-model",
                "TRACKING_ENABLED": "true",
                "MLFLOW_TRACKING_URI": mlflow.url,
                "TRACKING_RETRY_MAX_SECONDS": str(RETRY_MAX_SECONDS),
            },
        )
        workflow_id = cluster.store_workflow(three_node_workflow())
        try:
            mlflow.start()
            [worker] = cluster.start_workers(1)

            # Fault 1: MLflow down for ``outage`` seconds while runs keep finishing.
            load = Load(cluster, workflow_id, 1.0 / rate).start()
            time.sleep(2)
            mlflow.stop()
            time.sleep(outage)
            waiting = [
                run_id
                for run_id, row in _records(cluster, list(load.started)).items()
                if row.state == "pending"
            ]
            mlflow.start()
            back_at = datetime.now(UTC)
            loaded = load.stop()
            cluster.wait_finished(loaded, timeout=DELIVERY_BOUND)
            outage_result = _fault(cluster, mlflow, waiting, back_at)
            outage_result["runs"] = len(loaded)

            # Fault 2: MLflow down, runs finish, the worker is stopped with SIGTERM; a new
            # worker starts once MLflow is back.
            mlflow.stop()
            early = [cluster.start_run(workflow_id, {"text": f"[s{i}]"}) for i in range(10)]
            cluster.wait_finished(early, timeout=DELIVERY_BOUND)
            worker.stop(signal.SIGTERM)
            pending = [r for r, row in _records(cluster, early).items() if row.state == "pending"]
            mlflow.start()
            back_at = datetime.now(UTC)
            cluster.start_workers(1)
            sigterm_result = _fault(cluster, mlflow, early, back_at)
            sigterm_result["pending_at_sigterm"] = len(pending)
        finally:
            mlflow.stop()
            cluster.stop()
    return {
        "stack": name,
        "mlflow_outage": outage_result,
        "sigterm_with_records_pending": sigterm_result,
    }


def measure(
    outage: float = 30.0,
    rate: float = 1.0,
    stacks: tuple[str, ...] = ("sqlite", "postgresql+redis"),
) -> dict[str, Any]:
    """The MLflow faults on each stack; a JSON-ready dict."""
    results = []
    for stack in stacks:
        with tempfile.TemporaryDirectory(prefix="bench-tracking-") as folder:
            workdir = Path(folder)
            if stack == "sqlite":
                results.append(
                    run_stack(
                        stack,
                        f"sqlite:///{workdir / 'app.db'}",
                        f"sqlite:///{workdir / 'queue.db'}",
                        workdir,
                        outage,
                        rate,
                    )
                )
                continue
            flush_redis(REDIS_URL)
            with temporary_postgres_database(POSTGRES_ADMIN_URL, prefix="ca_bench") as url:
                results.append(run_stack(stack, url, REDIS_URL, workdir, outage, rate))
            flush_redis(REDIS_URL)
    return {
        "outage_seconds": outage,
        "runs_per_second": rate,
        "retry_max_seconds": RETRY_MAX_SECONDS,
        "goals": {"records_lost": 0, "duplicates": 0},
        "stacks": results,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=30.0, help="seconds MLflow is down")
    parser.add_argument("--rate", type=float, default=1.0, help="runs started per second")
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(args.outage, args.rate)
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    result["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    for stack in result["stacks"]:
        for fault in ("mlflow_outage", "sigterm_with_records_pending"):
            print(stack["stack"], fault, json.dumps(stack[fault]))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
