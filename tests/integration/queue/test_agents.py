"""The agents registry: workers register, heartbeat with their runs in progress and
deregister on a clean stop (`configurable-agents agents` lists them; honcho scales them);
remote agents register over the JSON API with a token and take runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from configurable_agents.storage.repositories import agents
from tests.e2e.serviceset import BIN, REPO, process_environment, write_env_file
from tests.fakes.openai_server import FakeLLMServer
from tests.integration.queue.cluster import Cluster, three_node_workflow
from tests.integration.queue.conftest import ClusterFactory, api_client
from tests.integration.queue.remote_agent_stub import SCHEMA, RemoteAgentStub


def cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "configurable_agents", *args],
        env=process_environment(cluster.settings_env),
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=60,
    )


def listed(cluster: Cluster, *flags: str) -> dict[str, dict]:
    answer = cli(cluster, "agents", "--json", *flags)
    assert answer.returncode == 0, answer.stderr
    return {row["id"]: row for row in json.loads(answer.stdout)}


def test_workers_report_their_runs_and_deregister_on_a_clean_stop(
    make_cluster: ClusterFactory, slow_llm: FakeLLMServer
) -> None:
    cluster = make_cluster(slow_llm, WORKER_CONCURRENCY="2")
    busy, idle = cluster.start_workers(2)
    shown = listed(cluster)
    assert {busy.agent_id, idle.agent_id} <= set(shown)
    row = shown[busy.agent_id]
    assert (row["kind"], row["state"], row["pid"], row["concurrency"]) == (
        "worker",
        "alive",
        busy.pid,
        2,
    )

    idle.stop(signal.SIGTERM)
    workflow_id = cluster.store_workflow(three_node_workflow())
    run_ids = [cluster.start_run(workflow_id, {"text": f"[r{i}]"}) for i in range(2)]

    def reported_busy() -> bool:
        with cluster.session_factory() as session:
            return agents.require(session, busy.agent_id).runs_in_progress == 2

    cluster.wait_for(reported_busy, timeout=30, what="a heartbeat with 2 runs in progress")
    cluster.wait_finished(run_ids)
    assert idle.agent_id not in listed(cluster)
    assert listed(cluster, "--all")[idle.agent_id]["state"] == "dead"
    table = cli(cluster, "agents")
    assert busy.agent_id in table.stdout and "alive" in table.stdout


def test_honcho_scales_the_worker_process(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer, tmp_path: Path
) -> None:
    cluster = make_cluster(fake_llm)
    env_file = write_env_file(tmp_path / "honcho.env", cluster.settings_env)
    honcho = subprocess.Popen(
        [
            str(BIN / "honcho"),
            "start",
            "-f",
            str(REPO / "Procfile"),
            "-e",
            str(env_file),
            "-c",
            "worker=3",
            "worker",
        ],
        env=process_environment(cluster.settings_env),
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def three_alive() -> list | None:
            with cluster.session_factory() as session:
                alive = [
                    s.agent
                    for s in agents.list_with_liveness(session, kind="worker", include_dead=False)
                ]
            return alive if len(alive) == 3 else None

        workers = cluster.wait_for(three_alive, timeout=60, what="three workers under honcho")
        workflow_id = cluster.store_workflow(three_node_workflow())
        runs = cluster.wait_finished(
            [cluster.start_run(workflow_id, {"text": f"[r{i}]"}) for i in range(30)]
        )
        assert {run.state for run in runs} == {"completed"}
    finally:
        honcho.send_signal(signal.SIGINT)
        output, _ = honcho.communicate(timeout=30)
    assert len({w.pid for w in workers}) == 3
    with cluster.session_factory() as session:
        states = {agents.liveness(agents.require(session, w.id)) for w in workers}
    assert states == {"dead"}, output
    assert output.count("worker stopped:") == 3, output


@pytest.fixture
def remote_agent() -> Iterator[RemoteAgentStub]:
    with RemoteAgentStub() as stub:
        yield stub


def register(client: TestClient, agent: RemoteAgentStub, *, ttl_seconds: float) -> Any:
    return client.post(
        "/api/v1/agents/register",
        json={"name": "shouter", "url": agent.url, "ttl_seconds": ttl_seconds},
    )


class Heartbeats:
    """Keeps a registered remote agent alive, as the agent itself would."""

    def __init__(self, client: TestClient, agent_id: str, token: str) -> None:
        self._stop = threading.Event()
        headers = {"Authorization": f"Bearer {token}"}

        def beat() -> None:
            while not self._stop.wait(0.3):
                client.post(f"/api/v1/agents/{agent_id}/heartbeat", headers=headers)

        self._thread = threading.Thread(target=beat, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


REMOTE_WORKFLOW = """\
schema_version: 1
name: via-remote
state:
  text: {type: str, required: true}
  shouted: {type: "dict[str, str]"}
nodes:
  - id: shout
    kind: agent
    agent: shouter
    inputs: {text: "{text}", times: "2"}
    output: shouted
    timeout: 10
edges:
  - {from: START, to: shout}
  - {from: shout, to: END}
"""


def test_remote_agents_register_heartbeat_and_take_runs(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer, remote_agent: RemoteAgentStub
) -> None:
    cluster = make_cluster(fake_llm)
    cluster.start_workers(1)
    client = api_client(cluster)

    registered = register(client, remote_agent, ttl_seconds=2)
    assert registered.status_code == 201, registered.text
    agent = registered.json()
    assert agent["input_schema"] == SCHEMA and agent["state"] == "alive"
    token = agent.pop("token")
    with cluster.session_factory() as session:
        stored = agents.require(session, agent["id"])
        assert token not in (stored.token_hash or "")
    wrong = client.post(
        f"/api/v1/agents/{agent['id']}/heartbeat", headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    beats = Heartbeats(client, agent["id"], token)
    try:
        listing = client.get("/api/v1/agents/remote").json()
        assert [(a["name"], a["state"]) for a in listing] == [("shouter", "alive")]
        form = client.get("/api/v1/agents/remote/shouter/form").json()
        assert [(f["name"], f["type"], f["required"]) for f in form] == [
            ("text", "str", True),
            ("times", "int", False),
        ]

        bad = client.post("/api/v1/agents/shouter/runs", json={"inputs": {"times": 9}})
        dispatched = client.post(
            "/api/v1/agents/shouter/runs", json={"inputs": {"text": "hey", "times": "3"}}
        )
        from_cli = cli(cluster, "agents", "dispatch", "shouter", "-i", "text=yo", "--json")
        in_workflow = cluster.start_run(cluster.store_workflow(REMOTE_WORKFLOW), {"text": "go"})

        assert bad.status_code == 422
        assert "missing required input 'text'" in bad.json()["detail"]
        assert dispatched.status_code == 202, dispatched.text
        assert from_cli.returncode == 0, from_cli.stderr
        run_ids = [dispatched.json()["run_id"], json.loads(from_cli.stdout)["run_id"], in_workflow]
        runs = {run.id: run for run in cluster.wait_finished(run_ids)}
    finally:
        beats.stop()
    assert [runs[i].state for i in run_ids] == ["completed"] * 3
    assert runs[run_ids[0]].outputs == {
        "text": "hey",
        "times": 3,
        "result": {"shout": "HEY HEY HEY"},
    }
    assert runs[run_ids[1]].outputs["result"] == {"shout": "YO"}
    assert runs[in_workflow].outputs["shouted"] == {"shout": "GO GO"}
    assert [step.kind for step in cluster.steps(in_workflow)] == ["agent"]
    assert sorted(json.dumps(r["inputs"], sort_keys=True) for r in remote_agent.received) == [
        '{"text": "go", "times": "2"}',
        '{"text": "hey", "times": 3}',
        '{"text": "yo", "times": null}',
    ]
    left = client.delete(
        f"/api/v1/agents/{agent['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert left.status_code == 204
    refused = client.post("/api/v1/agents/shouter/runs", json={"inputs": {"text": "late"}})
    assert refused.status_code == 409 and "dead" in refused.json()["detail"]


def test_a_dead_remote_agent_is_skipped_with_a_clear_error(
    make_cluster: ClusterFactory, fake_llm: FakeLLMServer, remote_agent: RemoteAgentStub
) -> None:
    cluster = make_cluster(fake_llm)
    cluster.start_workers(1)
    client = api_client(cluster)
    registered = register(client, remote_agent, ttl_seconds=0.2)
    assert registered.status_code == 201

    def dead() -> bool:
        listing = client.get("/api/v1/agents/remote", params={"include_dead": True}).json()
        return listing[0]["state"] == "dead"

    cluster.wait_for(dead, timeout=10, what="the agent to count as dead")
    refused = client.post("/api/v1/agents/shouter/runs", json={"inputs": {"text": "hey"}})
    run = cluster.wait_finished(
        [cluster.start_run(cluster.store_workflow(REMOTE_WORKFLOW), {"text": "go"})]
    )[0]
    unreachable = client.post(
        "/api/v1/agents/register", json={"name": "ghost", "url": "http://127.0.0.1:9/x"}
    )

    assert refused.status_code == 409
    assert "remote agent 'shouter' is dead" in refused.json()["detail"]
    assert run.state == "failed"
    assert "remote agent 'shouter' is not alive" in run.error_message
    assert remote_agent.received == []
    assert unreachable.status_code == 422
    assert (
        "cannot fetch the input schema from http://127.0.0.1:9/x/schema"
        in (unreachable.json()["detail"])
    )


@pytest.mark.parametrize(
    ("method", "path", "own_check"),
    [
        ("POST", "/api/v1/agents/abc123/heartbeat", True),
        ("DELETE", "/api/v1/agents/abc123", True),
        ("POST", "/api/v1/agents/register", False),
        ("GET", "/api/v1/agents/remote", False),
        ("POST", "/api/v1/agents/shouter/runs", False),
        ("POST", "/api/v1/hooks/summarize", True),
        ("GET", "/api/v1/hooks/summarize", False),
        ("POST", "/api/v1/workflows/1/runs", False),
    ],
)
def test_only_token_and_signature_checked_routes_skip_the_dashboard_token(
    method: str, path: str, own_check: bool
) -> None:
    from dashboard.routes import agent_api, hooks

    skips = agent_api.authenticates_itself(method, path) or hooks.authenticates_itself(method, path)

    assert skips is own_check
