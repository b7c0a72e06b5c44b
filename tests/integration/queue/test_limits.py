"""Limits: a full queue answers 429 with a clear message; concurrency limits hold over
all workers, overall and per workflow."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from configurable_agents.queue.dispatch import QueueFullError
from configurable_agents.queue.triggers import sign
from configurable_agents.storage.models import Run
from tests.fakes.openai_server import FakeLLMServer
from tests.integration.queue.cluster import three_node_workflow
from tests.integration.queue.conftest import ClusterFactory, api_client


def test_enqueue_beyond_the_queue_depth_answers_429(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", "s")
    cluster = make_cluster(fake_llm, QUEUE_MAX_DEPTH="3")
    workflow_id = cluster.store_workflow(three_node_workflow())
    waiting = [cluster.start_run(workflow_id, {"text": f"[r{i}]"}) for i in range(3)]

    with pytest.raises(QueueFullError) as refused:
        cluster.start_run(workflow_id, {"text": "[one too many]"})
    body = json.dumps({"text": "[hook]"}).encode()
    hook = api_client(cluster).post(
        "/api/v1/hooks/three-steps",
        content=body,
        headers={"X-Signature-256": sign("s", body), "X-Delivery-Id": "d1"},
    )

    assert refused.value.status == 429
    assert str(refused.value).startswith("the queue is full: 3 runs are waiting")
    assert "QUEUE_MAX_DEPTH=3" in str(refused.value)
    assert hook.status_code == 429 and "QUEUE_MAX_DEPTH" in hook.json()["detail"]
    assert sorted(run.id for run in cluster.runs()) == sorted(waiting)
    # Once the workers drain the queue, runs are accepted again.
    cluster.start_workers(1)
    cluster.wait_finished(waiting)
    assert cluster.run(cluster.start_run(workflow_id, {"text": "[later]"})).state in (
        "queued",
        "running",
        "completed",
    )


def most_at_once(runs: list[Run]) -> int:
    """The largest number of runs whose [started_at, finished_at] overlap at one moment."""
    edges: list[tuple[datetime, int]] = []
    for run in runs:
        assert run.started_at and run.finished_at
        edges += [(run.started_at, 1), (run.finished_at, -1)]
    at_once = peak = 0
    for _, change in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        at_once += change
        peak = max(peak, at_once)
    return peak


def test_concurrency_limits_hold_over_all_workers(
    make_cluster: ClusterFactory, slow_llm: FakeLLMServer
) -> None:
    cluster = make_cluster(
        slow_llm, MAX_CONCURRENT_RUNS="2", MAX_RUNS_PER_WORKFLOW="1", WORKER_CONCURRENCY="2"
    )
    cluster.start_workers(2)  # four slots, more than the limits allow
    first = cluster.store_workflow(three_node_workflow("first"))
    second = cluster.store_workflow(three_node_workflow("second"))
    run_ids = [
        cluster.start_run(workflow_id, {"text": f"[r{i}]"})
        for i in range(4)
        for workflow_id in (first, second)
    ]

    runs = cluster.wait_finished(run_ids, timeout=120)

    assert {run.state for run in runs} == {"completed"}
    assert most_at_once(runs) == 2
    for name in ("first", "second"):
        assert most_at_once([run for run in runs if run.workflow_name == name]) == 1
