"""kill -9 the process running a tool-using node between two tool calls: the resumed run
does not make the completed call again (counted on the tool's side) nor ask the model
again for the turn that asked for it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fakes import FakeLLMServer, Reply
from tests.unit.engine.test_crash_and_cli import cli, cli_env


class CountingServer(ThreadingHTTPServer):
    """Answers every GET with its path, counting the hits per path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: CountingServer

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        body = f"content of {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


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


def tool_steps(data_dir: Path) -> list[tuple[str, str, int]]:
    engine = create_engine(f"sqlite:///{data_dir / 'configurable_agents.db'}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT step_key, state, attempt FROM run_steps ORDER BY seq")
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


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
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "configurable_agents",
            "run",
            "wf.yaml",
            "-i",
            "topic=owls",
            "--json",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(fake_llm_server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_llm_server.requests) == 2, "the run never reached its second turn"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert tool_steps(data_dir) == [("fetch#1/tool#1", "completed", 1)]
    assert counting_server.hits == {"/a": 1}

    fake_llm_server.clear()
    fake_llm_server.push(fetch(counting_server.url + "/b"), Reply(text="Two pages read."))
    run_id = json.loads(cli("runs", "--json", env=env, cwd=tmp_path).stdout)[0]["run_id"]
    resumed = cli("resume", run_id, "--json", env=env, cwd=tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["state"] == "completed" and data["outputs"]["report"] == "Two pages read."
    assert counting_server.hits == {"/a": 1, "/b": 1}
    assert [step["step_key"] for step in data["steps"]] == [
        "fetch#1/tool#1",
        "fetch#1/tool#2",
        "fetch#1",
    ]
    assert tool_steps(data_dir) == [
        ("fetch#1/tool#1", "completed", 1),
        ("fetch#1/tool#2", "completed", 2),
        ("fetch#1", "completed", 2),
    ]
    # The resumed node asked the model for turns two and three only, carrying the first
    # call's stored result.
    assert len(fake_llm_server.requests) == 2
    first_result = [m for m in fake_llm_server.requests[0].messages if m.get("role") == "tool"]
    assert first_result[0]["content"] == "content of /a"
