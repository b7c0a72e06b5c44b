"""A queue worker killed with SIGKILL between two tool calls of a tool-using node: another
worker takes the run over, and the call made before the kill is not made again (counted
on the tool's side), nor the model asked again for the turn that asked for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.openai_server import FakeLLMServer, RecordedRequest, Reply
from tests.integration.queue.conftest import ClusterFactory
from tests.unit.engine.test_agent_crash import FETCHER, CountingServer


class Script:
    """Turn 1 fetches /a; turn 2 hangs the first time (the worker dies meanwhile), then
    fetches /b; turn 3 answers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.second_turns = 0
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        results = [m for m in request.messages if m.get("role") == "tool"]
        if not results:
            return self.fetch("/a")
        if len(results) == 1:
            with self.lock:
                self.second_turns += 1
                first = self.second_turns == 1
            return Reply(text="never", delay=60) if first else self.fetch("/b")
        return Reply(text="Two pages read.")

    def fetch(self, path: str) -> Reply:
        return Reply(tool_calls=[{"name": "http_request", "arguments": {"url": self.url + path}}])


@pytest.fixture
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_worker_killed_between_two_tool_calls(
    make_cluster: ClusterFactory, counting_server: CountingServer
) -> None:
    script = Script(counting_server.url)
    with FakeLLMServer(default=script) as llm:
        cluster = make_cluster(llm)
        (victim,) = cluster.start_workers(1)
        run_id = cluster.start_run(cluster.store_workflow(FETCHER), {"topic": "owls"})

        def first_call_stored() -> Any:
            keys = [step.step_key for step in cluster.steps(run_id)]
            return script.second_turns == 1 and keys == ["fetch#1/tool#1"]

        cluster.wait_for(first_call_stored, timeout=60, what="the first call to be stored")
        victim.kill9()
        (survivor,) = cluster.start_workers(1)
        [run] = cluster.wait_finished([run_id], timeout=90)

    assert run.state == "completed", run.error_message
    assert run.outputs is not None and run.outputs["report"] == "Two pages read."
    assert run.worker_id == survivor.agent_id and run.attempts == 2
    assert counting_server.hits == {"/a": 1, "/b": 1}
    stored = [(s.step_key, s.state, s.attempt) for s in cluster.steps(run_id)]
    assert stored == [
        ("fetch#1/tool#1", "completed", 1),
        ("fetch#1/tool#2", "completed", 2),
        ("fetch#1", "completed", 2),
    ]
    # Turn 1 was asked once; turn 2 twice (the hung request, then the resumed one).
    first_turns = [r for r in llm.requests if not any(m.get("role") == "tool" for m in r.messages)]
    assert len(first_turns) == 1 and script.second_turns == 2
