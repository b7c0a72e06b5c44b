"""Reliability benchmark, host faults: every process of one worker host killed in the middle
of a load of runs, on the multi-host machines of tests/multihost (network namespaces:
needs root, PostgreSQL and Redis on 127.0.0.1).

Runs lost (goal 0), steps repeated (goal 0: a step stored twice, or a step stored before
the kill executed again), and the time from the kill to the completion of each run the
dead host held, p50 / p95 (about RUN_LEASE_SECONDS, the time a dead worker's lease takes
to run out after its last renewal). ``measure`` is what benchmarks/reliability.py calls; run alone
from the repo root:

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/reliability_multihost.py [--runs 100]

Writes benchmarks/results/reliability_multihost.json.
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
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the machines live with the multi-host tests

from tests.databases import temporary_postgres_database  # noqa: E402
from tests.integration.queue.test_exactly_once import requests_per_run_and_node  # noqa: E402
from tests.multihost import netns  # noqa: E402
from tests.multihost.machines import (  # noqa: E402
    LEASE_SECONDS,
    kill_host_mid_load,
    running_machines,
    steps_by_run,
)

RESULTS = REPO / "benchmarks" / "results" / "reliability_multihost.json"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)


def measure(runs: int = 100) -> dict[str, Any]:
    """Kill one of two worker hosts mid-load; a JSON-ready dict."""
    why = netns.available()
    if why:
        return {"fault": "worker host killed", "skipped": why}
    with (
        tempfile.TemporaryDirectory(prefix="bench-multihost-") as folder,
        temporary_postgres_database(POSTGRES_ADMIN_URL, prefix="ca_bench") as database_url,
        running_machines(Path(folder), database_url, REDIS_URL) as machines,
    ):
        killed = kill_host_mid_load(machines, runs)
        stored = steps_by_run(machines, list(killed.tokens))
        requests = requests_per_run_and_node(machines.llm)
    stored_twice = sum(
        count - 1
        for steps in stored.values()
        for count in Counter(step.node for step in steps).values()
        if count > 1
    )
    executed_again = sum(
        1
        for run_id, nodes in killed.stored_at_kill.items()
        for node in nodes
        if requests[(killed.tokens[run_id], node)] > 1
    )
    # The step the dead host was executing (its LLM answer never stored) runs again on
    # the other host: that is the resume, not a repeat; counted apart for the record.
    in_flight = sum(
        1
        for run_id in killed.held
        for node in ("one", "two", "three")
        if node not in killed.stored_at_kill[run_id] and requests[(killed.tokens[run_id], node)] > 1
    )
    recovery = [
        (run.finished_at - killed.killed_at).total_seconds()
        for run in killed.runs
        if run.id in killed.held and run.finished_at is not None
    ]
    return {
        "fault": "every process of one of two worker hosts killed (SIGKILL) mid-load",
        "runs": runs,
        "runs_held_by_the_dead_host": len(killed.held),
        "runs_lost": sum(1 for run in killed.runs if run.state != "completed"),
        "steps_repeated": stored_twice + executed_again,
        "in_flight_steps_executed_again": in_flight,
        "recovery_p50_s": _percentile(recovery, 0.5),
        "recovery_p95_s": _percentile(recovery, 0.95),
        "lease_seconds": LEASE_SECONDS,
        "goals": {"runs_lost": 0, "steps_repeated": 0},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(args.runs)
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    result["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
