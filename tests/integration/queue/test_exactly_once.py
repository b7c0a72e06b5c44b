"""Many queued runs over several worker processes: each completes once, no step twice."""

from __future__ import annotations

import re
from collections import Counter

from tests.fakes.openai_server import FakeLLMServer
from tests.integration.queue.cluster import three_node_workflow
from tests.integration.queue.conftest import ClusterFactory

RUNS = 200
TOKEN = re.compile(r"\[r\d+\]")


def requests_per_run_and_node(server: FakeLLMServer) -> Counter[tuple[str, str]]:
    """How many LLM requests each (run token, node) caused: prompts start with the node."""
    counts: Counter[tuple[str, str]] = Counter()
    for request in server.requests:
        text = request.last_user_text
        token = TOKEN.search(text)
        assert token, f"a request without a run token: {text!r}"
        counts[(token.group(), text.split()[0])] += 1
    return counts


def test_three_workers_complete_200_runs_exactly_once(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer
) -> None:
    cluster = make_cluster(fake_llm)
    workers = cluster.start_workers(3)
    workflow_id = cluster.store_workflow(three_node_workflow())

    tokens = {cluster.start_run(workflow_id, {"text": f"[r{i}]"}): f"[r{i}]" for i in range(RUNS)}

    runs = cluster.wait_finished(tokens, timeout=300)
    assert Counter(run.state for run in runs) == {"completed": RUNS}
    assert {run.attempts for run in runs} == {1}
    assert {run.worker_id for run in runs} == {worker.agent_id for worker in workers}
    for run in runs:
        steps = cluster.steps(run.id)
        assert [step.node for step in steps] == ["one", "two", "three"], run.id
        assert len({step.step_key for step in steps}) == 3
        assert run.outputs["c"].endswith(tokens[run.id])
    per_step = requests_per_run_and_node(fake_llm)
    assert len(fake_llm.requests) == 3 * RUNS
    assert set(per_step.values()) == {1}
    assert {token for token, _ in per_step} == set(tokens.values())
