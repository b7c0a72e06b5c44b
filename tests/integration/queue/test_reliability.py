"""Runs that cannot get lost or run twice, on SQLite with the SQLite queue and on
PostgreSQL with Redis, with real worker processes and the scripted LLM server:

- kill -9 of a worker at 20 random moments: every run completes; no LLM call is made twice
  for a step, except a call a kill cut off before its step was stored (made once more);
- every queue message lost (FLUSHDB, the SQLite queue's rows deleted) with 100 runs queued:
  the reconciler enqueues them again and all complete, each timeline saying why;
- an approval decided while the queue is unreachable: stored, and the run completes;
- `resume` against a run a live worker holds: refused (who, until when), no step
  repeated; with the worker frozen (SIGSTOP) `resume --take-over` waits out the lease and
  completes the run, and the thawed worker writes nothing.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from configurable_agents.storage.models import RunEvent
from dashboard.routes import runs as run_routes
from tests.fakes.openai_server import FakeLLMServer
from tests.integration.queue.conftest import ClusterFactory, api_client, echo_reply
from tests.integration.queue.faults import (
    APPROVAL,
    NODES,
    calls_per_step,
    cli,
    five_step_workflow,
    held_at,
    kill_at_random_moments,
    lose_queue_messages,
    popen_cli,
    queued_count,
)

# Lost messages are noticed within a second or two in these tests.
RECONCILE = {"RECONCILE_AFTER_SECONDS": "1"}


def events(cluster, run_id: str) -> list[RunEvent]:  # type: ignore[no-untyped-def]
    with cluster.session_factory() as session:
        query = select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id)
        return list(session.scalars(query))


def test_kill_9_at_20_random_moments_loses_no_run_and_repeats_no_step(
    make_cluster: ClusterFactory,
) -> None:
    with FakeLLMServer(default=echo_reply(0.08)) as llm:
        # A run may be under several of the twenty kills: it must never give up.
        # A lease a little longer than the other queue tests': a loaded machine must not
        # let a live worker's lease lapse (its run would go to another, calling again).
        cluster = make_cluster(llm, RUN_MAX_ATTEMPTS="100", RUN_LEASE_SECONDS="3", **RECONCILE)
        workflow_id = cluster.store_workflow(five_step_workflow())

        ledger = kill_at_random_moments(cluster, llm, workflow_id, kills=20, seed=11)

        runs = cluster.wait_finished(ledger.tokens, timeout=120)
        assert Counter(run.state for run in runs) == {"completed": len(runs)}
        assert ledger.kills == 20 and sum(run.attempts > 1 for run in runs) > 0
        for run in runs:
            steps = cluster.steps(run.id)
            assert sorted(step.node for step in steps) == sorted(NODES), run.id
            assert run.outputs["five_out"].startswith("fake reply to: five")
        calls = calls_per_step(llm)
        assert {token for token, _ in calls} == set(ledger.tokens.values())
        assert len(calls) == 5 * len(runs)
        # One call per step; a call a kill cut off before its step was stored is made once
        # more, and nothing else is ever repeated.
        assert ledger.repeated_calls(llm) == {}
        assert sum(calls.values()) == 5 * len(runs) + sum(ledger.cut_off.values())


def test_100_queued_runs_whose_messages_are_lost_all_complete(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer
) -> None:
    # No worker dies here: a lease long enough for a loaded machine (a lease that expires
    # under a live worker hands its run to another, which calls the LLM again).
    cluster = make_cluster(fake_llm, RUN_LEASE_SECONDS="15", **RECONCILE)
    workflow_id = cluster.store_workflow(five_step_workflow("one-step", ("one",)))
    tokens = {cluster.start_run(workflow_id, {"text": f"[r{i}]"}): f"[r{i}]" for i in range(100)}

    assert lose_queue_messages(cluster) >= 100
    assert queued_count(cluster, tokens) == 100
    cluster.start_workers(2)

    runs = cluster.wait_finished(tokens, timeout=120)
    assert Counter(run.state for run in runs) == {"completed": 100}
    assert all(len(cluster.steps(run_id)) == 1 for run_id in tokens)
    assert set(calls_per_step(fake_llm).values()) == {1}
    for run_id in tokens:
        timeline = events(cluster, run_id)
        assert [event.kind for event in timeline] == ["reconciled"], (
            run_id,
            [(e.at, e.detail) for e in timeline],
            cluster.run(run_id).started_at,
        )
        assert "the queue held no message" in timeline[0].detail
    assert "lost their queue message" in cluster.worker_output()


def test_an_approval_while_the_queue_is_unreachable_completes_once_it_is_back(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer, data_dir: Path
) -> None:
    cluster = make_cluster(fake_llm, RUN_LEASE_SECONDS="15", **RECONCILE)
    cluster.start_workers(1)
    run_id = cluster.start_run(cluster.store_workflow(APPROVAL), {"text": "[r0]"})
    cluster.wait_state(run_id, "awaiting_approval")

    # The dashboard cannot reach the queue (Redis on a port nobody listens on, or a SQLite
    # queue file in a folder that is gone); the workers still can.
    unreachable = (
        "redis://127.0.0.1:9/0"
        if cluster.queue_url.startswith("redis")
        else f"sqlite:///{data_dir / 'gone' / 'queue.db'}"
    )
    dashboard_side = cluster.settings.model_copy(update={"queue_url": unreachable})
    client = api_client(cluster)
    client.app.state.settings = dashboard_side  # type: ignore[attr-defined]
    client.app.include_router(run_routes.router)  # type: ignore[attr-defined]
    answer = client.post(f"/api/v1/runs/{run_id}/approve", json={"approved": True})

    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "queued"
    run = cluster.wait_state(run_id, "completed", timeout=60)
    assert run.outputs["final"].startswith("fake reply to: publish")
    kinds = [event.kind for event in events(cluster, run_id)]
    assert kinds[:1] == ["enqueue_failed"] and "reconciled" in kinds
    assert sorted(step.node for step in cluster.steps(run_id)) == ["approve", "draft", "publish"]
    assert set(calls_per_step(fake_llm).values()) == {1}


def test_resume_is_refused_while_a_live_worker_holds_the_run(
    make_cluster: ClusterFactory,
) -> None:
    gate = threading.Event()
    with FakeLLMServer(default=held_at("two", gate)) as llm:
        cluster = make_cluster(llm)
        (worker,) = cluster.start_workers(1)
        run_id = cluster.start_run(cluster.store_workflow(five_step_workflow()), {"text": "[r0]"})
        cluster.wait_for(lambda: len(cluster.steps(run_id)) >= 1, timeout=30, what="a step")

        # The worker is inside step two (its LLM call held) while `resume` tries.
        refused = cli(cluster, "resume", run_id)
        gate.set()

        assert refused.returncode == 4, refused.stderr
        assert worker.agent_id in refused.stderr and "until" in refused.stderr
        assert "Traceback" not in refused.stderr
        run = cluster.wait_state(run_id, "completed", timeout=60)
        assert run.attempts == 1 and run.epoch == 1
        assert sorted(step.node for step in cluster.steps(run_id)) == sorted(NODES)
        assert set(calls_per_step(llm).values()) == {1}


def test_take_over_of_a_frozen_worker_completes_and_the_thawed_worker_writes_nothing(
    make_cluster: ClusterFactory,
) -> None:
    with FakeLLMServer(default=echo_reply(0.3)) as llm:
        # A lease long enough that `resume` (a new process) starts while it is still live.
        cluster = make_cluster(llm, RUN_LEASE_SECONDS="6")
        (worker,) = cluster.start_workers(1)
        run_id = cluster.start_run(cluster.store_workflow(five_step_workflow()), {"text": "[r0]"})
        cluster.wait_for(lambda: len(cluster.steps(run_id)) >= 2, timeout=30, what="2 steps")
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            frozen_steps = {step.node for step in cluster.steps(run_id)}
            lease_at_freeze = cluster.run(run_id).lease_expires_at
            taker = popen_cli(cluster, "resume", run_id, "--take-over")
            _, err = taker.communicate(timeout=90)
            before_thaw = [(s.id, s.node, s.epoch, s.output) for s in cluster.steps(run_id)]
            run_before_thaw = cluster.run(run_id)
        finally:
            os.kill(worker.pid, signal.SIGCONT)

        assert taker.returncode == 0, err
        # (It says "... held by <worker> ...; waiting for it to expire" if it started while
        # the lease was live: not asserted, a loaded machine may start it later.)
        assert run_before_thaw.state == "completed" and run_before_thaw.epoch == 2
        # Thawed, the old holder finds its claim stale at its next step or write.
        cluster.wait_for(
            lambda: "left to its new holder" in worker.output(),
            timeout=30,
            what="the thawed worker to give up",
        )
        time.sleep(0.5)
        # It wrote nothing: the same steps, the run as the taker left it.
        assert [(s.id, s.node, s.epoch, s.output) for s in cluster.steps(run_id)] == before_thaw
        run = cluster.run(run_id)
        assert (run.state, run.epoch, run.outputs, run.finished_at) == (
            "completed",
            2,
            run_before_thaw.outputs,
            run_before_thaw.finished_at,
        )
        assert sorted(node for _, node, _, _ in before_thaw) == sorted(NODES)
        assert all(epoch == 2 for _, node, epoch, _ in before_thaw if node not in frozen_steps)
        assert not re.search(rf"run {run_id} completed", worker.output())
        calls = calls_per_step(llm)
        for node in frozen_steps:
            assert calls[("[r0]", node)] == 1, node
        (taken,) = [e for e in events(cluster, run_id) if e.kind == "taken_over"]
        assert taken.epoch == 2 and worker.agent_id in taken.detail
        assert lease_at_freeze is not None and taken.at >= lease_at_freeze
