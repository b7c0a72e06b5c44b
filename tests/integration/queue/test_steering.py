"""Steering runs on real workers: cancel a queued or running run, retry a failed one, and
a run waiting for approval holds no worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from configurable_agents.queue.dispatch import (
    Decision,
    cancel_run,
    decide_approval,
    retry_run,
)
from configurable_agents.storage.errors import IllegalTransitionError
from tests.fakes.openai_server import FakeLLMServer, Reply
from tests.integration.queue.cluster import three_node_workflow
from tests.integration.queue.conftest import ClusterFactory, echo_reply

APPROVAL = """\
schema_version: 1
name: needs-approval
state:
  text: {type: str, required: true}
  draft: {type: str}
  final: {type: str}
nodes:
  - {id: draft, kind: llm, prompt: "draft {text}", output: draft}
  - {id: approve, kind: approval, message: "Publish {draft}?"}
  - {id: publish, kind: llm, prompt: "publish {draft}", output: final}
edges:
  - {from: START, to: draft}
  - {from: draft, to: approve}
  - {from: approve, to: publish}
  - {from: publish, to: END}
"""


def test_cancel_a_running_and_a_queued_run(
    make_cluster: ClusterFactory, slow_llm: FakeLLMServer
) -> None:
    cluster = make_cluster(slow_llm, WORKER_CONCURRENCY="1")
    cluster.start_workers(1)
    workflow_id = cluster.store_workflow(three_node_workflow())
    running = cluster.start_run(workflow_id, {"text": "[running]"})
    cluster.wait_for(lambda: cluster.steps(running), timeout=30, what="a first step")
    queued = cluster.start_run(workflow_id, {"text": "[queued]"})

    assert cancel_run(cluster.session_factory, queued).state == "cancelled"
    assert cancel_run(cluster.session_factory, running).cancel_requested is True

    cancelled = cluster.wait_state(running, "cancelled")
    assert cancelled.error_message == "cancelled by user"
    assert len(cluster.steps(running)) < 3
    after = cluster.start_run(workflow_id, {"text": "[after]"})
    assert cluster.wait_finished([after])[0].state == "completed"
    assert cluster.run(queued).state == "cancelled"
    assert cluster.steps(queued) == []
    assert not any("[queued]" in r.last_user_text for r in slow_llm.requests)
    with pytest.raises(IllegalTransitionError, match="already cancelled"):
        cancel_run(cluster.session_factory, queued)


@pytest.fixture
def failing_llm() -> Iterator[tuple[FakeLLMServer, set[str]]]:
    """The fake LLM refuses (HTTP 400) every prompt containing a word of the set."""
    refuse: set[str] = set()
    echo = echo_reply()

    def respond(request: object) -> Reply:
        text = getattr(request, "last_user_text", "")
        if any(word in text for word in refuse):
            return Reply(status=400, error="this prompt is refused")
        return echo(request)

    with FakeLLMServer(default=respond) as server:
        yield server, refuse


def test_retry_a_failed_run(
    make_cluster: ClusterFactory, failing_llm: tuple[FakeLLMServer, set[str]]
) -> None:
    server, refuse = failing_llm
    refuse.add("[flaky]")
    cluster = make_cluster(server)
    cluster.start_workers(1)
    workflow_id = cluster.store_workflow(three_node_workflow())
    failed = cluster.wait_finished([cluster.start_run(workflow_id, {"text": "[flaky]"})])[0]
    assert failed.state == "failed"
    assert "node one" in failed.error_message and "refused" in failed.error_message

    refuse.clear()
    retried = retry_run(cluster.settings, cluster.session_factory, failed.id)

    assert retried.id != failed.id and retried.state == "queued"
    done = cluster.wait_finished([retried.id])[0]
    assert done.state == "completed" and done.inputs == {"text": "[flaky]"}
    assert done.trigger == "retry"
    assert cluster.run(failed.id).state == "failed"
    with pytest.raises(IllegalTransitionError, match="only failed or cancelled"):
        retry_run(cluster.settings, cluster.session_factory, done.id)


def test_a_run_waiting_for_approval_holds_no_worker(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer
) -> None:
    cluster = make_cluster(fake_llm, WORKER_CONCURRENCY="1")
    (worker,) = cluster.start_workers(1)
    waiting = cluster.start_run(cluster.store_workflow(APPROVAL), {"text": "[ask]"})
    paused = cluster.wait_state(waiting, "awaiting_approval")
    assert paused.worker_id is None and paused.lease_expires_at is None

    # The worker's only thread is free: another run goes through while the first waits.
    other = cluster.start_run(cluster.store_workflow(three_node_workflow()), {"text": "[go]"})
    assert cluster.wait_finished([other])[0].state == "completed"
    assert cluster.run(waiting).state == "awaiting_approval"

    decide_approval(cluster.settings, cluster.session_factory, waiting, Decision(True, "ok"))
    done = cluster.wait_finished([waiting])[0]

    assert done.state == "completed"
    assert done.outputs["final"].startswith("fake reply to: publish")
    assert [step.node for step in cluster.steps(waiting)] == ["draft", "approve", "publish"]
    assert sum(r.last_user_text.startswith("draft ") for r in fake_llm.requests) == 1
    assert done.worker_id == worker.agent_id
