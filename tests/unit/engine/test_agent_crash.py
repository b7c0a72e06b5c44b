"""kill -9 the process running a tool-using node between two tool calls: the resumed run
does not make the completed call again (counted on the tool's side) nor ask the model
again for the turn that asked for it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fakes import FakeLLMServer, Reply
from tests.fakes.local_http import QuietHandler, serving
from tests.unit.engine.cli_runs import (
    cli_env,
    kill_at_request,
    resume_latest,
    start_run,
    stored_steps,
)


class CountingServer(ThreadingHTTPServer):
    """Answers every GET with its path, counting the hits per path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(QuietHandler):
    server: CountingServer

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        self.send_body(f"content of {self.path}".encode(), "text/plain")


@pytest.fixture
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer()
    with serving(server):
        yield server


FETCHER = """
schema_version: 1
name: fetcher
state:
  topic: {type: str, required: true}
  report: {type: str}
nodes:
  - id: fetch
    kind: llm
    prompt: "Fetch pages about {topic}"
    output: report
    tools: [http_request]
edges:
  - {from: START, to: fetch}
  - {from: fetch, to: END}
"""


def fetch(url: str) -> Reply:
    return Reply(tool_calls=[{"name": "http_request", "arguments": {"url": url}}])


def test_killed_between_two_tool_calls_resumes_without_repeating_the_first(
    tmp_path: Path, fake_llm_server: FakeLLMServer, counting_server: CountingServer
) -> None:
    data_dir = tmp_path / "var"
    env = cli_env(data_dir, fake_llm_server)
    (tmp_path / "wf.yaml").write_text(FETCHER)
    # The second turn hangs: the process is killed after the first call was stored.
    fake_llm_server.push(fetch(counting_server.url + "/a"), Reply(text="never", delay=60))
    process = start_run("wf.yaml", "-i", "topic=owls", "--json", env=env, cwd=tmp_path)
    kill_at_request(process, fake_llm_server, 2, "its second turn")
    assert stored_steps(data_dir, "step_key") == [("fetch#1/tool#1", "completed", 1)]
    assert counting_server.hits == {"/a": 1}

    fake_llm_server.clear()
    fake_llm_server.push(fetch(counting_server.url + "/b"), Reply(text="Two pages read."))
    resumed = resume_latest(env, tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["state"] == "completed" and data["outputs"]["report"] == "Two pages read."
    assert counting_server.hits == {"/a": 1, "/b": 1}
    assert [step["step_key"] for step in data["steps"]] == [
        "fetch#1/tool#1",
        "fetch#1/tool#2",
        "fetch#1",
    ]
    assert stored_steps(data_dir, "step_key") == [
        ("fetch#1/tool#1", "completed", 1),
        ("fetch#1/tool#2", "completed", 2),
        ("fetch#1", "completed", 2),
    ]
    # The resumed node asked the model for turns two and three only, carrying the first
    # call's stored result.
    assert len(fake_llm_server.requests) == 2
    first_result = [m for m in fake_llm_server.requests[0].messages if m.get("role") == "tool"]
    assert first_result[0]["content"] == "content of /a"
