"""Experiment benchmark: cells per second of an experiment (4 variants x 100 rows, one
scored run per cell) against the same number of plain runs of the workflow, on the same
workers (2 processes) with an instant LLM (the scripted fake server), in one run.

Run from the repo root: `.venv/bin/python benchmarks/experiments.py` (Redis on
127.0.0.1:6379 for the default Redis queue; `--queue sqlite` for the embedded one).
Writes benchmarks/results/experiments.json and prints a summary.

- plain: 400 runs started through the dispatch (as the API starts them), timed from the
  first run's creation to the last run's end.
- experiment: created from a definition (dataset checked, variants built), started (400
  runs created and enqueued), every cell scored by the workers (exact, contains, length)
  and the experiment finished; timed from the first cell run's creation to the
  experiment's end (after its last cell is scored).
- overhead per cell: experiment seconds per cell over plain seconds per run, minus one,
  in each round (plain then experiment, back to back); the median over rounds. Reported
  end to end (from the first creation) and from the first start (what running and
  scoring the cells adds, without the difference in how the runs are created).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

# benchmarks/queue.py sits beside this file: the folder must not shadow the standard
# library's queue (which huey and psycopg import).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the cluster helpers live with the queue tests

from configurable_agents.experiments.creation import create_experiment  # noqa: E402
from configurable_agents.experiments.definition import parse_definition  # noqa: E402
from configurable_agents.experiments.launch import start_experiment  # noqa: E402
from configurable_agents.storage.models import Experiment  # noqa: E402
from tests.fakes.openai_server import FakeLLMServer  # noqa: E402
from tests.fakes.workflows import echo_workflow  # noqa: E402
from tests.integration.queue.cluster import Cluster, flush_redis  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "experiments.json"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
GOAL_OVERHEAD = 0.10
VARIANTS = 4
ROWS = 100
DEFINITION = """\
name: bench
workflow: echo.yaml
dataset: rows.csv
variants:
  - name: v0
  - {name: v1, nodes: {answer: {prompt: "one {text}"}}}
  - {name: v2, nodes: {answer: {prompt: "two {text}"}}}
  - {name: v3, nodes: {answer: {prompt: "three {text}"}}}
scorers:
  - {kind: exact, field: reply}
  - {kind: contains, field: reply, value: fake}
  - {kind: length, field: reply, max: 200}
"""


def plain_round(cluster: Cluster, workflow_id: int, count: int) -> tuple[float, float]:
    """(seconds from the first creation to the last end, from the first start to the last end)."""
    run_ids = [cluster.start_run(workflow_id, {"text": f"plain {i}"}) for i in range(count)]
    runs = cluster.wait_finished(run_ids, timeout=900)
    assert {run.state for run in runs} == {"completed"}, {run.state for run in runs}
    last = max(run.finished_at or run.created_at for run in runs)
    first_created = min(run.created_at for run in runs)
    first_started = min(run.started_at or run.created_at for run in runs)
    return (last - first_created).total_seconds(), (last - first_started).total_seconds()


def experiment_round(cluster: Cluster, files: Path) -> tuple[float, float]:
    definition = parse_definition((files / "bench.yaml").read_text(), filename="bench.yaml")
    experiment_id = create_experiment(
        cluster.settings, cluster.session_factory, definition, base_dir=files
    )
    run_ids = start_experiment(cluster.settings, cluster.session_factory, experiment_id)

    def finished() -> Experiment | None:
        with cluster.session_factory() as session:
            experiment = session.get(Experiment, experiment_id)
            return experiment if experiment and experiment.status != "running" else None

    experiment = cluster.wait_for(finished, timeout=900, what="the experiment", poll=0.1)
    assert experiment.status == "completed", experiment.status
    runs = cluster.runs(run_ids)
    first_created = min(run.created_at for run in runs)
    first_started = min(run.started_at or run.created_at for run in runs)
    end = experiment.finished_at
    return (end - first_created).total_seconds(), (end - first_started).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="WORKER_CONCURRENCY")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    cells = VARIANTS * ROWS
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-experiments-") as tmp, FakeLLMServer() as llm:
        data_dir = Path(tmp)
        files = data_dir / "files"
        files.mkdir()
        (files / "echo.yaml").write_text(echo_workflow())
        (files / "rows.csv").write_text("text\n" + "".join(f"row {i}\n" for i in range(ROWS)))
        (files / "bench.yaml").write_text(DEFINITION)
        queue_url = REDIS_URL if args.queue == "redis" else f"sqlite:///{data_dir / 'queue.db'}"
        if args.queue == "redis":
            flush_redis(REDIS_URL)
        cluster = Cluster(
            data_dir,
            f"sqlite:///{data_dir / 'app.db'}",
            queue_url,
            env={
                "LLM_PROVIDER": "openai",
                "LLM_BASE_URL": llm.base_url,
                "LLM_MODEL": "fake-model",
                "WORKER_CONCURRENCY": str(args.concurrency),
                "LOG_LEVEL": "WARNING",
                "QUEUE_MAX_DEPTH": "100000",
            },
        )
        plain, experiment = [], []
        try:
            cluster.start_workers(args.workers)
            workflow_id = cluster.store_workflow(echo_workflow())
            cluster.wait_finished(
                [cluster.start_run(workflow_id, {"text": f"warm {i}"}) for i in range(8)]
            )
            for index in range(args.rounds):
                plain.append(plain_round(cluster, workflow_id, cells))
                experiment.append(experiment_round(cluster, files))
                print(
                    f"round {index + 1}: plain {cells / plain[-1][0]:.1f} runs/s "
                    f"({cells / plain[-1][1]:.1f} from the first start), experiment "
                    f"{cells / experiment[-1][0]:.1f} cells/s ({cells / experiment[-1][1]:.1f})",
                    flush=True,
                )
        finally:
            cluster.stop()
            if args.queue == "redis":
                flush_redis(REDIS_URL)
    # Each round's experiment against the plain runs just before it (the same load on the
    # shared machine), then the median over rounds. End to end counts starting the runs
    # (the experiment creates its cells in one transaction, plain runs one by one through
    # the dispatch); execution counts from the first start, so it shows what scoring adds.
    plain_seconds = statistics.median(p for p, _ in plain)
    experiment_seconds = statistics.median(e for e, _ in experiment)
    per_round = [e / p - 1 for (p, _), (e, _) in zip(plain, experiment, strict=True)]
    per_round_execution = [e / p - 1 for (_, p), (_, e) in zip(plain, experiment, strict=True)]
    overhead = statistics.median(per_round)
    execution_overhead = statistics.median(per_round_execution)
    report: dict[str, Any] = {
        "benchmark": "experiments",
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(load, 2) for load in load_at_start],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "setup": {
            "variants": VARIANTS,
            "rows": ROWS,
            "cells": cells,
            "workers": args.workers,
            "worker_concurrency": args.concurrency,
            "queue": args.queue,
            "database": "sqlite",
            "workflow": "1 llm node, instant fake OpenAI-compatible server",
            "scorers": ["exact", "contains", "length"],
        },
        "plain_runs_per_second": round(cells / plain_seconds, 1),
        "experiment_cells_per_second": round(cells / experiment_seconds, 1),
        "rounds": {
            "plain_runs_per_second": [round(cells / p, 1) for p, _ in plain],
            "experiment_cells_per_second": [round(cells / e, 1) for e, _ in experiment],
            "plain_execution_runs_per_second": [round(cells / p, 1) for _, p in plain],
            "experiment_execution_cells_per_second": [round(cells / e, 1) for _, e in experiment],
        },
        "overhead_per_cell": round(overhead, 3),
        "overhead_per_cell_by_round": [round(value, 3) for value in per_round],
        "execution_overhead_per_cell": round(execution_overhead, 3),
        "execution_overhead_per_cell_by_round": [round(v, 3) for v in per_round_execution],
        "goal_overhead": GOAL_OVERHEAD,
        "met": max(overhead, execution_overhead) <= GOAL_OVERHEAD,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"plain {report['plain_runs_per_second']} runs/s, experiment "
        f"{report['experiment_cells_per_second']} cells/s, overhead {overhead:+.1%} per cell "
        f"end to end, {execution_overhead:+.1%} from the first start "
        f"(goal <= {GOAL_OVERHEAD:.0%}); wrote {args.output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
