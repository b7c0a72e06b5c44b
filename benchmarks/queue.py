"""Queue benchmark: enqueue-to-start latency and runs per second of a 3-node workflow with an
instant LLM (the scripted fake server), with 1, 2 and 4 worker processes, on the SQLite
queue and on Redis, in one run.

Run from the repo root: `.venv/bin/python benchmarks/queue.py` (Redis on 127.0.0.1:6379 and,
for the scale-out rows, PostgreSQL on 127.0.0.1:5432). Writes benchmarks/results/queue.json
and prints a summary.

- latency: runs started one at a time on idle workers (a pause between two), measured
  from the run's creation (``created_at``, just before it is enqueued) to its start by a
  worker (``started_at``, after the claim); both stamped on this machine's clock.
- throughput: a burst of runs enqueued at once; runs per second from the first run's
  creation to the last run's end.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named queue.py: its folder must not shadow the standard library's queue.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the cluster helpers live with the queue tests

from tests.databases import temporary_postgres_database  # noqa: E402
from tests.fakes.openai_server import FakeLLMServer  # noqa: E402
from tests.integration.queue.cluster import (  # noqa: E402
    Cluster,
    flush_redis,
    three_node_workflow,
)

RESULTS = REPO / "benchmarks" / "results" / "queue.json"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
GOALS = {"median_latency_ms": 50.0, "redis_4_workers_runs_per_second": 50.0}
# (name, database, queue): the queues compared on the same embedded database, and the
# scale-out stack (PostgreSQL + Redis) as a user runs it on several machines.
STACKS = (
    ("sqlite-queue", "sqlite", "sqlite"),
    ("redis", "sqlite", "redis"),
    ("redis+postgresql", "postgresql", "redis"),
)


@contextmanager
def database(kind: str, data_dir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{data_dir / 'app.db'}"
    else:
        with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
            yield url


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def burst(cluster: Cluster, workflow_id: int, count: int) -> tuple[float, float, set[str]]:
    """Enqueue ``count`` runs at once; (runs/s from first creation to last end, enqueue
    rate, final states)."""
    enqueue_started = time.perf_counter()
    run_ids = [cluster.start_run(workflow_id, {"text": f"burst {i}"}) for i in range(count)]
    enqueue_seconds = time.perf_counter() - enqueue_started
    runs = cluster.wait_finished(run_ids, timeout=600)
    first = min(run.created_at for run in runs)
    last = max(run.finished_at or run.created_at for run in runs)
    return (
        count / (last - first).total_seconds(),
        count / enqueue_seconds,
        {run.state for run in runs},
    )


def measure(
    stack: tuple[str, str, str], workers: int, args: argparse.Namespace, llm: FakeLLMServer
) -> dict[str, Any]:
    name, database_kind, queue_kind = stack
    with (
        tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp,
        database(database_kind, Path(tmp)) as database_url,
    ):
        data_dir = Path(tmp)
        queue_url = f"sqlite:///{data_dir / 'queue.db'}" if queue_kind == "sqlite" else REDIS_URL
        if queue_kind == "redis":
            flush_redis(REDIS_URL)
        cluster = Cluster(
            data_dir,
            database_url,
            queue_url,
            env={
                "LLM_PROVIDER": "openai",
                "LLM_BASE_URL": llm.base_url,
                "LLM_MODEL": "fake-model",
                "WORKER_CONCURRENCY": str(args.concurrency),
                "LOG_LEVEL": "WARNING",
            },
        )
        try:
            cluster.start_workers(workers)
            workflow_id = cluster.store_workflow(three_node_workflow())
            # Warm-up: first runs load the provider, compile paths, open connections.
            cluster.wait_finished(
                [cluster.start_run(workflow_id, {"text": f"warm {i}"}) for i in range(2 * workers)]
            )
            latency_ids = []
            for i in range(args.latency_runs):
                latency_ids.append(cluster.start_run(workflow_id, {"text": f"latency {i}"}))
                time.sleep(args.pause)
            latency_runs = cluster.wait_finished(latency_ids)
            latencies = [
                (run.started_at - run.created_at).total_seconds() * 1000 for run in latency_runs
            ]
            bursts = [burst(cluster, workflow_id, args.burst_runs) for _ in range(args.bursts)]
            states = sorted({run.state for run in latency_runs} | {s for b in bursts for s in b[2]})
        finally:
            cluster.stop()
            if queue_kind == "redis":
                flush_redis(REDIS_URL)
    result = {
        "stack": name,
        "database": database_kind,
        "queue": queue_kind,
        "workers": workers,
        "worker_concurrency": args.concurrency,
        "latency_ms": {
            "median": round(statistics.median(latencies), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "max": round(max(latencies), 1),
            "runs": len(latencies),
        },
        "throughput": {
            "runs_per_burst": args.burst_runs,
            "bursts_runs_per_second": [round(rate, 1) for rate, _, _ in bursts],
            "runs_per_second": round(statistics.median(rate for rate, _, _ in bursts), 1),
            "enqueue_runs_per_second": round(statistics.median(rate for _, rate, _ in bursts), 1),
        },
        "states": states,
    }
    print(
        f"{name:17} workers={workers}  latency median {result['latency_ms']['median']:6.1f} ms"
        f"  p95 {result['latency_ms']['p95']:6.1f} ms  "
        f"{result['throughput']['runs_per_second']:6.1f} runs/s  {states}",
        flush=True,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--stacks", nargs="+", default=[s[0] for s in STACKS])
    parser.add_argument("--concurrency", type=int, default=2, help="WORKER_CONCURRENCY")
    parser.add_argument("--latency-runs", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between latency runs")
    parser.add_argument("--burst-runs", type=int, default=200)
    parser.add_argument(
        "--bursts", type=int, default=3, help="bursts per setting; the median rate is reported"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    results = []
    with FakeLLMServer() as llm:
        for stack in STACKS:
            if stack[0] not in args.stacks:
                continue
            for workers in args.workers:
                results.append(measure(stack, workers, args, llm))
    redis4 = [r for r in results if r["queue"] == "redis" and r["workers"] == 4]
    report = {
        "benchmark": "queue",
        "machine": {
            "cpus": os.cpu_count(),
            # Other work on the machine skews the figures; this says how busy it was.
            "load_average_at_start": [round(load, 2) for load in load_at_start],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "workflow": "3 llm nodes in a chain, instant fake OpenAI-compatible server",
        "goals": GOALS,
        "met": {
            "median_latency_ms": all(
                r["latency_ms"]["median"] < GOALS["median_latency_ms"] for r in results
            ),
            "redis_4_workers_runs_per_second": bool(redis4)
            and all(
                r["throughput"]["runs_per_second"] >= GOALS["redis_4_workers_runs_per_second"]
                for r in redis4
            ),
        },
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}; goals met: {report['met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
