"""Every page has a JSON twin carrying the same data: fetch both, find the JSON's values in
the HTML (a real ASGI client on a temporary database)."""

from __future__ import annotations

import html
import os
import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import agents, experiments
from tests.unit.dashboard.conftest import TYPED_YAML, store_run, store_workflow


def assert_shown(page: str, *values: Any) -> None:
    """Each value appears in the page as a browser would read it (HTML-escaped)."""
    for value in values:
        assert html.escape(str(value)) in page, f"{value!r} is in the JSON, not in the page"


@pytest.fixture
def data(dashboard_database: Database) -> dict[str, Any]:
    """A workflow with a finished run (two steps), a failed run, an example, a worker."""
    workflow_id = store_workflow(dashboard_database)
    store_workflow(dashboard_database, TYPED_YAML, source="example")
    step = {"node": "summarize", "output": {"summary": "short"}, "model": "tiny-model"}
    run_id = store_run(dashboard_database, workflow_id, state="completed", steps=[step])
    failed = store_run(
        dashboard_database, workflow_id, state="failed", error_message="the model fell over"
    )
    with session_scope(dashboard_database.session_factory) as session:
        agents.register(
            session, name="busy-bee", host=socket.gethostname(), pid=os.getpid(), concurrency=3
        )
        experiment = experiments.create(
            session, name="terse-prompt", variants={"baseline": {}, "terse": {}}, dataset=[{}]
        )
        experiment_id = experiment.id
    return {
        "workflow_id": workflow_id,
        "run_id": run_id,
        "failed": failed,
        "experiment_id": experiment_id,
    }


def both(client: TestClient, page: str, api: str) -> tuple[str, Any]:
    """The page's HTML and its twin's JSON, both answered 200."""
    shown, twin = client.get(page), client.get(api)
    assert shown.status_code == 200 and twin.status_code == 200, (page, api)
    return shown.text, twin.json()


def test_home(client: TestClient, data: dict[str, Any]) -> None:
    client.app.state.tick.latest = None  # read the data stored above
    page, twin = both(client, "/", "/api/v1/home")
    for figure in twin["figures"]:
        assert_shown(page, figure["label"], figure["value"], figure["detail"])
    assert_shown(page, twin["status"]["resources"]["disk_path"])


def test_runs(client: TestClient, data: dict[str, Any]) -> None:
    page, twin = both(client, "/runs", "/api/v1/runs")
    assert {item["id"] for item in twin["items"]} == {data["run_id"], data["failed"]}
    for item in twin["items"]:
        assert_shown(page, item["id"], item["workflow_name"], item["state"])


def test_run(client: TestClient, data: dict[str, Any]) -> None:
    run_id = data["run_id"]
    page, twin = both(client, f"/runs/{run_id}", f"/api/v1/runs/{run_id}")
    steps = client.get(f"/api/v1/runs/{run_id}/steps").json()
    assert_shown(page, twin["id"], twin["workflow_name"], twin["state"])
    assert steps and all(step["node"] in page and step["model"] in page for step in steps)


def test_workflows(client: TestClient, data: dict[str, Any]) -> None:
    page, twin = both(client, "/workflows", "/api/v1/workflows")
    assert len(twin) == 2
    for workflow in twin:
        assert_shown(page, workflow["name"], workflow["description"])


def test_workflow(client: TestClient, data: dict[str, Any]) -> None:
    workflow_id = data["workflow_id"]
    page, twin = both(client, f"/workflows/{workflow_id}", f"/api/v1/workflows/{workflow_id}")
    assert_shown(page, twin["name"], twin["description"])
    assert [field["name"] for field in twin["inputs"]] == ["text"]
    assert all(f'name="{field["name"]}"' in page for field in twin["inputs"])
    assert all(f"v{version['version']}" in page for version in twin["versions"])


def test_templates(client: TestClient, data: dict[str, Any]) -> None:
    page, twin = both(client, "/templates", "/api/v1/templates")
    assert [card["name"] for card in twin] == ["typed-inputs"]
    for card in twin:
        assert_shown(page, card["name"], card["description"], *card["kinds"], *card["inputs"])
        assert card["use_url"] in page


def test_agents(client: TestClient, data: dict[str, Any]) -> None:
    page, twin = both(client, "/agents", "/api/v1/agents")
    assert [agent["name"] for agent in twin] == ["busy-bee"]
    for agent in twin:
        assert_shown(page, agent["name"], agent["liveness"], agent["host"])


def test_orchestrator(client: TestClient, data: dict[str, Any]) -> None:
    page, twin = both(client, "/orchestrator", "/api/v1/orchestrator")
    assert twin["workers_alive"] == ["busy-bee"] and twin["capacity"] == 3
    assert f"{twin['capacity']} run(s) at once" in page
    for name, value in twin["limits"].items():
        assert f'data-limit="{name}"' in page and f"<td>{value}</td>" in page
    # Resources are read every few seconds in the background: a reading may land between
    # the two requests, so compare a page and a twin taken from the same reading.
    for _ in range(3):
        page, twin = both(client, "/orchestrator", "/api/v1/orchestrator")
        names = [usage["name"] for usage in twin["resources"]["processes"]]
        if all(f'data-process="{name}"' in page for name in names):
            break
    assert names and all(f'data-process="{name}"' in page for name in names)


def test_metrics(client: TestClient, data: dict[str, Any]) -> None:
    page, twin = both(client, "/metrics?group=model", "/api/v1/metrics?group=model")
    assert [row["group"] for row in twin["rows"]] == ["tiny-model"]
    for row in twin["rows"]:
        assert_shown(page, row["group"])


def test_optimization(client: TestClient, data: dict[str, Any]) -> None:
    page, twin = both(client, "/optimization", "/api/v1/experiments")
    assert [experiment["name"] for experiment in twin] == ["terse-prompt"]
    for experiment in twin:
        assert_shown(page, experiment["name"], experiment["status"])
    experiment_id = data["experiment_id"]
    page, one = both(
        client, f"/optimization/{experiment_id}", f"/api/v1/experiments/{experiment_id}"
    )
    assert_shown(page, one["name"], *one["variants"])


def test_settings(client: TestClient, data: dict[str, Any]) -> None:
    page, twin = both(client, "/settings", "/api/v1/settings")
    assert any(line["env"] == "RESOURCES_CPU_WARN_PERCENT" for line in twin["settings"])
    for line in twin["settings"]:
        assert_shown(page, line["env"], line["value"])
    assert_shown(page, twin["api_key"], *twin["versions"].values())
