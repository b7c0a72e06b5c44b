"""Reliability benchmark: for each fault, runs lost, steps repeated and the time from the
fault to recovery (p50 / p95), on SQLite with the SQLite queue and on PostgreSQL with
Redis, with real worker processes and the scripted LLM server, in one run.

Faults (the same as tests/integration/queue/test_reliability.py, measured):

- ``kill9``: a worker killed with SIGKILL at 20 random moments while 5-step runs flow
  through two workers. Recovery of a run the victim held: from the kill to the next claim
  of the run (its timeline's "claimed" entry). Steps repeated: LLM calls beyond one per
  step, not counting a call the kill cut off before its step was stored.
- ``lost_messages``: 100 queued runs whose queue messages are dropped (Redis FLUSHDB, the
  SQLite queue's rows deleted) while two workers run. Recovery: from the loss to each
  run's claim. The bound is RECONCILE_AFTER_SECONDS (set to ``--reconcile`` here).
- ``approval_queue_down``: approvals decided while the queue is unreachable from the
  deciding process. Recovery: from the decision to the run's claim.
- ``resume_live``: `resume` against a run a live worker holds: refused or not (goal:
  refused), steps repeated.
- ``take_over_frozen``: the holder frozen (SIGSTOP), `resume --take-over`. Recovery: from
  the freeze to the taker's claim (at least the lease: RUN_LEASE_SECONDS); and whether the
  thawed worker wrote anything (goal: nothing).

Run from the repo root: `.venv/bin/python benchmarks/reliability.py` (Redis on
127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432). Writes benchmarks/results/reliability.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
# ... but its sibling modules are imported by name, from the end of the path.
sys.path.append(str(HERE))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the cluster helpers live with the queue tests

from sqlalchemy import select  # noqa: E402

from configurable_agents.storage.models import RunEvent, utcnow  # noqa: E402
from tests.databases import temporary_postgres_database  # noqa: E402
from tests.fakes.openai_server import FakeLLMServer  # noqa: E402
from tests.integration.queue.cluster import Cluster, flush_redis, kill_leftovers  # noqa: E402
from tests.integration.queue.conftest import api_client, echo_reply  # noqa: E402
from tests.integration.queue.faults import (  # noqa: E402
    APPROVAL,
    calls_per_step,
    cli,
    five_step_workflow,
    held_at,
    kill_at_random_moments,
    lose_queue_messages,
    popen_cli,
)

RESULTS = REPO / "benchmarks" / "results" / "reliability.json"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
STACKS = (("sqlite", "sqlite", "sqlite"), ("postgresql+redis", "postgresql", "redis"))
FAST = {"RUN_LEASE_SECONDS": "3", "WORKER_HEARTBEAT_TTL": "1", "RUN_MAX_ATTEMPTS": "100"}


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))], 3)


def recovery(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_s": percentile(values, 0.5),
        "p95_s": percentile(values, 0.95),
    }


@contextmanager
def cluster_on(stack: tuple[str, str, str], llm: FakeLLMServer, **env: str) -> Iterator[Cluster]:
    """A fresh database and queue of the stack, with the LLM server, its workers stopped
    at the end."""
    _, database_kind, queue_kind = stack
    with tempfile.TemporaryDirectory() as tmp, _database(database_kind, Path(tmp)) as url:
        queue_url = f"sqlite:///{Path(tmp) / 'queue.db'}" if queue_kind == "sqlite" else REDIS_URL
        if queue_kind == "redis":
            flush_redis(REDIS_URL)
        settings = {
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": llm.base_url,
            "LLM_MODEL": "fake-model",
            **FAST,
            **env,
        }
        cluster = Cluster(Path(tmp), url, queue_url, env=settings)
        try:
            yield cluster
        finally:
            try:
                cluster.stop()
            finally:
                kill_leftovers(cluster.workers)
                if queue_kind == "redis":
                    flush_redis(REDIS_URL)


@contextmanager
def _database(kind: str, data_dir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{data_dir / 'app.db'}"
    else:
        with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
            yield url


def claims_after(cluster: Cluster, run_id: str, moment: datetime) -> float | None:
    """Seconds from ``moment`` to the run's first claim after it (its timeline), or to its
    start for a first claim."""
    with cluster.session_factory() as session:
        rows = session.scalars(
            select(RunEvent.at)
            .where(
                RunEvent.run_id == run_id,
                RunEvent.kind.in_(("claimed", "taken_over")),
                RunEvent.at >= moment,
            )
            .order_by(RunEvent.id)
        ).all()
    run = cluster.run(run_id)
    candidates = [*rows, *([run.started_at] if run.started_at and run.started_at >= moment else [])]
    return (min(candidates) - moment).total_seconds() if candidates else None


def lost_runs(cluster: Cluster, run_ids: list[str]) -> int:
    return sum(run.state != "completed" for run in cluster.runs(run_ids))


def repeated_steps(cluster: Cluster, run_ids: list[str]) -> int:
    """Completed step rows beyond one per (run, step key)."""
    from collections import Counter

    keys: Counter[tuple[str, str | None]] = Counter()
    for run_id in run_ids:
        for step in cluster.steps(run_id):
            if step.state == "completed":
                keys[(run_id, step.step_key)] += 1
    return sum(count - 1 for count in keys.values() if count > 1)


# --- the faults ----------------------------------------------------------------------------


def kill9(stack: tuple[str, str, str], kills: int, reconcile: float) -> dict[str, Any]:
    with (
        FakeLLMServer(default=echo_reply(0.08)) as llm,
        cluster_on(stack, llm, RECONCILE_AFTER_SECONDS=str(reconcile)) as cluster,
    ):
        workflow_id = cluster.store_workflow(five_step_workflow())
        kill_moments: list[tuple[datetime, list[str]]] = []
        ledger = kill_at_random_moments(
            cluster, llm, workflow_id, kills=kills, seed=5, on_kill=kill_moments.append
        )
        runs = cluster.wait_finished(ledger.tokens, timeout=300)
        run_ids = [run.id for run in runs]
        times = [
            seconds
            for moment, held in kill_moments
            for run_id in held
            if (seconds := claims_after(cluster, run_id, moment)) is not None
        ]
        return {
            "kills": ledger.kills,
            "runs": len(runs),
            "runs_lost": lost_runs(cluster, run_ids),
            "steps_repeated": repeated_steps(cluster, run_ids),
            "llm_calls_repeated": sum(ledger.repeated_calls(llm).values()),
            "llm_calls_cut_off_by_kills_and_made_again": sum(ledger.cut_off.values()),
            "llm_calls": sum(calls_per_step(llm).values()),
            "recovery": recovery(times),
        }


def lost_messages(stack: tuple[str, str, str], runs_count: int, reconcile: float) -> dict[str, Any]:
    with (
        FakeLLMServer(default=echo_reply(0.0)) as llm,
        cluster_on(
            stack, llm, RECONCILE_AFTER_SECONDS=str(reconcile), RUN_LEASE_SECONDS="15"
        ) as cluster,
    ):
        workflow_id = cluster.store_workflow(five_step_workflow("one-step", ("one",)))
        run_ids = [cluster.start_run(workflow_id, {"text": f"[r{i}]"}) for i in range(runs_count)]
        cluster.start_workers(2)
        lost_at = utcnow()
        held = lose_queue_messages(cluster)
        cluster.wait_finished(run_ids, timeout=300)
        before = {r.id for r in cluster.runs(run_ids) if r.started_at and r.started_at < lost_at}
        times = [
            s
            for r in run_ids
            if r not in before and (s := claims_after(cluster, r, lost_at)) is not None
        ]
        with cluster.session_factory() as session:
            woken = session.scalars(
                select(RunEvent.at).where(
                    RunEvent.run_id.in_(run_ids), RunEvent.kind == "reconciled"
                )
            ).all()
        requeued = [(at - lost_at).total_seconds() for at in woken]
        return {
            "runs": runs_count,
            "messages_dropped": held,
            "runs_started_before_the_loss": len(before),
            "runs_enqueued_again": len(woken),
            # From the loss to the reconciler's re-enqueue (the healing itself).
            "requeued": recovery(requeued),
            "runs_lost": lost_runs(cluster, run_ids),
            "steps_repeated": repeated_steps(cluster, run_ids),
            "llm_calls_repeated": sum(c - 1 for c in calls_per_step(llm).values() if c > 1),
            "reconcile_after_seconds": reconcile,
            # From the loss to each run's claim (includes waiting behind the other runs).
            "recovery": recovery(times),
        }


def approval_queue_down(
    stack: tuple[str, str, str], runs_count: int, reconcile: float
) -> dict[str, Any]:
    from dashboard.routes import runs as run_routes

    with (
        FakeLLMServer() as llm,
        cluster_on(
            stack, llm, RECONCILE_AFTER_SECONDS=str(reconcile), RUN_LEASE_SECONDS="15"
        ) as cluster,
    ):
        cluster.start_workers(1)
        workflow_id = cluster.store_workflow(APPROVAL)
        run_ids = [cluster.start_run(workflow_id, {"text": f"[r{i}]"}) for i in range(runs_count)]
        for run_id in run_ids:
            cluster.wait_state(run_id, "awaiting_approval")
        unreachable = (
            "redis://127.0.0.1:9/0"
            if cluster.queue_url.startswith("redis")
            else f"sqlite:///{cluster.data_dir / 'gone' / 'queue.db'}"
        )
        client = api_client(cluster)
        client.app.state.settings = cluster.settings.model_copy(update={"queue_url": unreachable})  # type: ignore[attr-defined]
        client.app.include_router(run_routes.router)  # type: ignore[attr-defined]
        decided: dict[str, datetime] = {}
        statuses = []
        for run_id in run_ids:
            decided[run_id] = utcnow()
            statuses.append(
                client.post(f"/api/v1/runs/{run_id}/approve", json={"approved": True}).status_code
            )
        cluster.wait_finished(run_ids, timeout=120)
        times = [s for r in run_ids if (s := claims_after(cluster, r, decided[r])) is not None]
        return {
            "runs": runs_count,
            "approve_statuses": sorted(set(statuses)),
            "runs_lost": lost_runs(cluster, run_ids),
            "steps_repeated": repeated_steps(cluster, run_ids),
            "reconcile_after_seconds": reconcile,
            "recovery": recovery(times),
        }


def resume_live(stack: tuple[str, str, str]) -> dict[str, Any]:
    gate = threading.Event()
    with FakeLLMServer(default=held_at("two", gate)) as llm, cluster_on(stack, llm) as cluster:
        cluster.start_workers(1)
        run_id = cluster.start_run(cluster.store_workflow(five_step_workflow()), {"text": "[r0]"})
        cluster.wait_for(lambda: len(cluster.steps(run_id)) >= 1, timeout=30, what="a step")
        refused = cli(cluster, "resume", run_id)
        gate.set()
        cluster.wait_finished([run_id], timeout=60)
        return {
            "exit_code": refused.returncode,
            "refused": refused.returncode == 4,
            "message": refused.stderr.strip().splitlines()[-1][:300] if refused.stderr else "",
            "runs_lost": lost_runs(cluster, [run_id]),
            "steps_repeated": repeated_steps(cluster, [run_id]),
            "llm_calls_repeated": sum(c - 1 for c in calls_per_step(llm).values() if c > 1),
        }


def take_over_frozen(stack: tuple[str, str, str], repeats: int) -> dict[str, Any]:
    lease = 4.0
    times, wrote_after_thaw, lost, repeated = [], 0, 0, 0
    with (
        FakeLLMServer(default=echo_reply(0.3)) as llm,
        cluster_on(stack, llm, RUN_LEASE_SECONDS=str(lease)) as cluster,
    ):
        workflow_id = cluster.store_workflow(five_step_workflow())
        for attempt in range(repeats):
            (worker,) = cluster.start_workers(1)
            run_id = cluster.start_run(workflow_id, {"text": f"[r{attempt}]"})
            cluster.wait_for(
                lambda run_id=run_id: len(cluster.steps(run_id)) >= 2, timeout=30, what="steps"
            )
            frozen_at = utcnow()
            os.kill(worker.pid, signal.SIGSTOP)
            try:
                taker = popen_cli(cluster, "resume", run_id, "--take-over")
                taker.communicate(timeout=90)
                before = [(s.id, s.epoch) for s in cluster.steps(run_id)]
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            time.sleep(1.5)
            after = [(s.id, s.epoch) for s in cluster.steps(run_id)]
            wrote_after_thaw += len(after) - len(before)
            if (seconds := claims_after(cluster, run_id, frozen_at)) is not None:
                times.append(seconds)
            lost += lost_runs(cluster, [run_id])
            repeated += repeated_steps(cluster, [run_id])
            worker.stop()
        return {
            "repeats": repeats,
            "lease_seconds": lease,
            "runs_lost": lost,
            "steps_repeated": repeated,
            "steps_written_by_thawed_workers": wrote_after_thaw,
            "recovery": recovery(times),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--runs", type=int, default=100, help="queued runs whose messages are lost")
    parser.add_argument("--reconcile", type=float, default=2.0, help="RECONCILE_AFTER_SECONDS")
    parser.add_argument("--approvals", type=int, default=5)
    parser.add_argument("--take-overs", type=int, default=3)
    parser.add_argument(
        "--only-queue-faults",
        action="store_true",
        help="skip the MLflow outage and multi-host faults (reliability_tracking.py, _multihost.py)",
    )
    args = parser.parse_args()

    results: dict[str, Any] = {"load_average_before": list(os.getloadavg()), "stacks": {}}
    for stack in STACKS:
        name = stack[0]
        print(f"== {name}", flush=True)
        results["stacks"][name] = {
            "kill9": kill9(stack, args.kills, args.reconcile),
            "lost_messages": lost_messages(stack, args.runs, args.reconcile),
            "approval_queue_down": approval_queue_down(stack, args.approvals, args.reconcile),
            "resume_live": resume_live(stack),
            "take_over_frozen": take_over_frozen(stack, args.take_overs),
        }
        print(json.dumps(results["stacks"][name], indent=2), flush=True)
    if not args.only_queue_faults:
        # The other faults of issue 11 (MLflow outage, a worker host killed over the network
        # namespaces): their own modules, measured in the same run.
        import reliability_multihost
        import reliability_tracking

        print("== tracking outbox", flush=True)
        results["tracking"] = reliability_tracking.measure()
        print("== multi-host", flush=True)
        results["multihost"] = reliability_multihost.measure()
    results["load_average_after"] = list(os.getloadavg())
    results["goals"] = {
        "no run lost": all(
            fault.get("runs_lost", 0) == 0
            for faults in results["stacks"].values()
            for fault in faults.values()
        ),
        "no step repeated": all(
            fault.get("steps_repeated", 0) == 0 and fault.get("llm_calls_repeated", 0) == 0
            for faults in results["stacks"].values()
            for fault in faults.values()
        ),
        "resume refused while held": all(
            faults["resume_live"]["refused"] for faults in results["stacks"].values()
        ),
        "thawed workers write nothing": all(
            faults["take_over_frozen"]["steps_written_by_thawed_workers"] == 0
            for faults in results["stacks"].values()
        ),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(json.dumps(results["goals"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
