"""A worker killed with SIGKILL in the middle of runs loses none of them.

The other worker's reaper takes the runs whose lease ran out and resumes each from its
last checkpoint: the steps stored before the kill are not executed again. After
RUN_MAX_ATTEMPTS executions a run fails instead, saying why.
"""

from __future__ import annotations

from collections import Counter

from tests.fakes.openai_server import FakeLLMServer
from tests.integration.queue.cluster import Cluster, WorkerProcess, three_node_workflow
from tests.integration.queue.conftest import ClusterFactory
from tests.integration.queue.test_exactly_once import requests_per_run_and_node

RUNS = 8


def start_runs(cluster: Cluster) -> dict[str, str]:
    workflow_id = cluster.store_workflow(three_node_workflow())
    return {cluster.start_run(workflow_id, {"text": f"[r{i}]"}): f"[r{i}]" for i in range(RUNS)}


def kill_mid_run(
    cluster: Cluster, victim: WorkerProcess, run_ids: list[str]
) -> dict[str, set[str]]:
    """Wait until the victim is running runs with a step stored, SIGKILL it, and return
    the nodes each of its runs had stored by then."""

    def victim_progress() -> dict[str, set[str]] | None:
        running = [
            run
            for run in cluster.runs(run_ids)
            if run.state == "running" and run.worker_id == victim.agent_id
        ]
        stored = {run.id: {s.node for s in cluster.steps(run.id)} for run in running}
        return stored if any(stored.values()) else None

    cluster.wait_for(victim_progress, timeout=60, what="the victim to store a step")
    victim.kill9()
    # Read again after the kill: a step may have been committed in between.
    return {
        run.id: {s.node for s in cluster.steps(run.id)}
        for run in cluster.runs(run_ids)
        if run.worker_id == victim.agent_id
    }


def test_runs_of_a_killed_worker_resume_elsewhere_without_repeating_steps(
    make_cluster: ClusterFactory, slow_llm: FakeLLMServer
) -> None:
    cluster = make_cluster(slow_llm)
    victim, survivor = cluster.start_workers(2)
    tokens = start_runs(cluster)

    stored_before_kill = kill_mid_run(cluster, victim, list(tokens))

    runs = {run.id: run for run in cluster.wait_finished(tokens, timeout=120)}
    assert stored_before_kill, "the victim held no runs"
    assert Counter(run.state for run in runs.values()) == {"completed": RUNS}
    requests = requests_per_run_and_node(slow_llm)
    for run_id, nodes in stored_before_kill.items():
        run = runs[run_id]
        assert run.worker_id == survivor.agent_id
        assert run.attempts == 2
        steps = cluster.steps(run_id)
        assert sorted(step.node for step in steps) == ["one", "three", "two"]
        for node in nodes:
            assert requests[(tokens[run_id], node)] == 1, (run_id, node)
        resumed = [step for step in steps if step.node not in nodes]
        assert {step.attempt for step in resumed} == {2}
    for run_id in set(tokens) - set(stored_before_kill):
        assert runs[run_id].attempts == 1
    assert "queued again" in survivor.output()


def test_a_run_fails_with_the_reason_after_its_last_attempt(
    make_cluster: ClusterFactory, slow_llm: FakeLLMServer
) -> None:
    cluster = make_cluster(slow_llm, RUN_MAX_ATTEMPTS="1")
    victim, survivor = cluster.start_workers(2)
    tokens = start_runs(cluster)

    stored_before_kill = kill_mid_run(cluster, victim, list(tokens))

    runs = {run.id: run for run in cluster.wait_finished(tokens, timeout=120)}
    for run_id in stored_before_kill:
        run = runs[run_id]
        assert run.state == "failed"
        assert run.error_type == "WorkerLost"
        assert victim.agent_id in run.error_message
        assert "RUN_MAX_ATTEMPTS=1" in run.error_message
    others = [run for run_id, run in runs.items() if run_id not in stored_before_kill]
    assert others and {run.state for run in others} == {"completed"}
    assert all(run.worker_id == survivor.agent_id for run in others if run.attempts)
