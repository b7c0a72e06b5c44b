"""Remote-agent calls carry Idempotency-Key: <run>:<step key>:<epoch>, the same on every
retry of the step, so an agent that remembers keys does the work once. A real HTTP agent
that answers 503 to the first try of each key and remembers what it did."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.engine.remote_agents import IDEMPOTENCY_HEADER
from configurable_agents.engine.runner import Engine
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import RunState
from configurable_agents.storage.repositories import agents, runs, steps
from tests.unit.engine.conftest import StoreRun

WORKFLOW = """
schema_version: 1
name: call-an-agent
state:
  text: {type: str, required: true}
  shout: {type: "dict[str, str]"}
nodes:
  - {id: remote, kind: agent, agent: shouter, inputs: {text: "{text}"}, output: shout, timeout: 5}
edges:
  - {from: START, to: remote}
  - {from: remote, to: END}
"""


class IdempotentAgent:
    """Fails the first try of every key with 503 (after doing the work: the worst case),
    then answers repeats of a key from what it remembers, without working again."""

    def __init__(self) -> None:
        self.keys: list[str | None] = []
        self.work: Counter[str] = Counter()
        self.done: dict[str, Any] = {}
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                key = self.headers.get(IDEMPOTENCY_HEADER)
                agent.keys.append(key)
                status, answer = 200, None
                if key is None or key not in agent.done:
                    agent.work[str(key)] += 1
                    agent.done[str(key)] = {"shout": body["inputs"]["text"].upper()}
                    status = 503
                if status == 200:
                    answer = {"outputs": agent.done[str(key)]}
                data = json.dumps(answer or {"error": "busy"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def shouter(database: Database) -> Iterator[IdempotentAgent]:
    agent = IdempotentAgent()
    thread = threading.Thread(target=agent.server.serve_forever, daemon=True)
    thread.start()
    with session_scope(database.session_factory) as session:
        agents.register_remote(session, name="shouter", url=agent.url, ttl_seconds=600)
    yield agent
    agent.server.shutdown()
    agent.server.server_close()


def test_retries_carry_one_key_and_the_agent_works_once(
    engine: Engine, store_run: StoreRun, database: Database, shouter: IdempotentAgent
) -> None:
    run_id = store_run(WORKFLOW, {"text": "hello"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == RunState.COMPLETED, outcome
    assert outcome.outputs == {"text": "hello", "shout": {"shout": "HELLO"}}
    with database.session_factory() as session:
        epoch = runs.require(session, run_id).epoch
        (step,) = steps.list_for_run(session, run_id)
    key = f"{run_id}:remote#1:{epoch}"
    assert shouter.keys == [key, key]
    assert shouter.work == {key: 1}
    assert step.output == {"shout": {"shout": "HELLO"}}
