"""The JSON API: everything the pages do, with 422 field paths and 404s."""

from __future__ import annotations

from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import agents
from tests.unit.dashboard.conftest import SUMMARIZE_YAML, TYPED_YAML, store_run, store_workflow


def test_workflow_crud(client: TestClient) -> None:
    created = client.post("/api/v1/workflows", json={"config_yaml": SUMMARIZE_YAML})
    assert created.status_code == 201
    workflow = created.json()
    assert workflow["name"] == "summarize" and workflow["latest_version"] == 1

    listed = client.get("/api/v1/workflows", params={"search": "summ"}).json()
    assert [w["name"] for w in listed] == ["summarize"]

    detail = client.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert detail["inputs"] == [
        {
            "name": "text",
            "type": "str",
            "required": True,
            "default": None,
            "description": "The text to summarize",
            "choices": [],
        }
    ]

    updated = client.put(
        f"/api/v1/workflows/{workflow['id']}",
        json={"config_yaml": SUMMARIZE_YAML.replace("one sentence", "a line"), "note": "terse"},
    ).json()
    assert updated["latest_version"] == 2
    assert [v["version"] for v in updated["versions"]] == [2, 1]
    version = client.get(f"/api/v1/workflows/{workflow['id']}/versions/1").json()
    assert "one sentence" in version["config_yaml"]
    diff = client.get(
        f"/api/v1/workflows/{workflow['id']}/diff", params={"old": 1, "new": 2}
    ).json()
    assert {line["kind"] for line in diff} >= {"add", "del", "hunk"}

    copy = client.post(f"/api/v1/workflows/{workflow['id']}/duplicate", json={"name": "mine"})
    assert copy.status_code == 201 and copy.json()["name"] == "mine"
    taken = client.post(f"/api/v1/workflows/{workflow['id']}/duplicate", json={"name": "mine"})
    assert taken.status_code == 409

    deleted = client.delete(
        f"/api/v1/workflows/{workflow['id']}", headers={"content-type": "application/json"}
    )
    assert deleted.json() == {"deleted": True, "runs_kept": 0}
    assert client.get(f"/api/v1/workflows/{workflow['id']}").status_code == 404


def test_config_errors_are_422_with_field_paths_and_lines(client: TestClient) -> None:
    broken = SUMMARIZE_YAML.replace("kind: llm", "kind: llm\n    temperature: hot")
    answer = client.post("/api/v1/workflows", json={"config_yaml": broken})

    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail, detail
    problem = detail[0]
    assert problem["loc"][:4] == ["body", "config_yaml", "nodes", 0]
    assert problem["line"] == broken.splitlines().index("    temperature: hot") + 1
    assert problem["column"] >= 1 and problem["msg"]


def test_request_shape_errors_are_422_with_field_paths(client: TestClient) -> None:
    answer = client.post("/api/v1/workflows", json={"config": "x"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "config_yaml"]
    runs = client.get("/api/v1/runs", params={"limit": 0})
    assert runs.status_code == 422 and runs.json()["detail"][0]["loc"] == ["query", "limit"]
    bad_day = client.get("/api/v1/runs", params={"since": "monday"})
    assert bad_day.json()["detail"][0]["loc"] == ["query", "since"]


def test_validate_reports_issues_and_an_estimate(client: TestClient) -> None:
    ok = client.post("/api/v1/validate", json={"config_yaml": SUMMARIZE_YAML}).json()
    assert ok["valid"] is True and ok["name"] == "summarize" and ok["issues"] == []
    assert ok["estimate"]["llm_calls_low"] == 1

    bad = client.post(
        "/api/v1/validate", json={"config_yaml": SUMMARIZE_YAML.replace("{text}", "{nothing}")}
    ).json()
    assert bad["valid"] is False
    assert any("nothing" in issue["message"] and issue["line"] for issue in bad["issues"])


def test_a_one_line_config_is_text_never_a_file_path(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: leaked-secret-value\n")
    answer = client.post("/api/v1/validate", json={"config_yaml": str(secret)}).json()
    assert answer["valid"] is False
    assert "leaked-secret-value" not in str(answer)


def test_run_inputs_are_checked_with_field_paths(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database, TYPED_YAML)
    bad = client.post(
        f"/api/v1/workflows/{workflow_id}/runs",
        json={"inputs": {"count": "many", "extra": 1}},
    )
    assert bad.status_code == 422
    locs = {tuple(item["loc"]) for item in bad.json()["detail"]}
    assert {
        ("body", "inputs", "count"),
        ("body", "inputs", "extra"),
        ("body", "inputs", "topic"),
    } <= locs
    assert client.post("/api/v1/workflows/999/runs", json={"inputs": {}}).status_code == 404


def test_runs_steps_and_not_found(client: TestClient, dashboard_database: Database) -> None:
    workflow_id = store_workflow(dashboard_database)
    run_id = store_run(
        dashboard_database,
        workflow_id,
        state="completed",
        steps=[
            {"node": "summarize", "raw_output": "short", "prompt_tokens": 3, "completion_tokens": 1}
        ],
    )
    for _ in range(3):
        store_run(dashboard_database, workflow_id, state="failed")

    page = client.get("/api/v1/runs", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get("/api/v1/runs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert (
        client.get("/api/v1/runs", params={"state": "failed"}).json()["items"][0]["state"]
        == "failed"
    )

    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert run["state"] == "completed" and run["total_tokens"] == 4
    steps = client.get(f"/api/v1/runs/{run_id}/steps").json()
    assert [(s["seq"], s["node"], s["raw_output"]) for s in steps] == [(1, "summarize", "short")]
    assert client.get("/api/v1/runs/nope").status_code == 404
    assert client.get("/api/v1/runs/nope/steps").json() == {"detail": "no run with id nope"}


def test_cancel_and_approve_through_the_api(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    queued = store_run(dashboard_database, workflow_id)
    cancelled = client.post(f"/api/v1/runs/{queued}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert client.post(f"/api/v1/runs/{queued}/cancel", json={}).status_code == 409

    waiting = store_run(
        dashboard_database,
        workflow_id,
        state="awaiting_approval",
        steps=[{"node": "summarize", "state": "awaiting_approval"}],
    )
    wrong = client.post(f"/api/v1/runs/{waiting}/approve", json={"approved": "perhaps"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "approved"]
    approved = client.post(
        f"/api/v1/runs/{waiting}/approve", json={"approved": True, "comment": "ok"}
    )
    assert approved.status_code == 200 and approved.json()["state"] == "queued"


def test_agents_experiments_metrics_and_palette(
    client: TestClient, dashboard_database: Database
) -> None:
    with session_scope(dashboard_database.session_factory) as session:
        agents.register(session, name="worker@here", agent_id="w1", ttl_seconds=30)
    listed = client.get("/api/v1/agents").json()
    assert [(a["id"], a["liveness"]) for a in listed] == [("w1", "alive")]

    workflow_id = store_workflow(dashboard_database)
    definition = {"name": "terse", "workflow": "summarize", "variants": [{"name": "baseline"}]}
    experiment = client.post(
        "/api/v1/experiments",
        json={"definition": definition, "dataset": "text\na\n", "start": False},
    )
    assert experiment.status_code == 201
    assert experiment.json()["variants"] == ["baseline"]
    assert client.post("/api/v1/experiments", json={"definition": {"name": "x"}}).status_code == 422
    assert client.get(f"/api/v1/experiments/{experiment.json()['id']}").json()["rows"] == 1
    assert client.get("/api/v1/experiments/999").status_code == 404

    metrics = client.get("/api/v1/metrics", params={"range": "24h", "group": "model"}).json()
    assert metrics["group_by"] == "model" and len(metrics["buckets"]) >= 24
    assert client.get("/api/v1/metrics", params={"range": "1y"}).status_code == 422

    palette = client.get("/api/v1/palette").json()
    titles = {item["title"]: item["url"] for item in palette}
    assert titles["Run workflow summarize"] == f"/workflows/{workflow_id}#run"
    assert titles["Settings"] == "/settings"


def test_openapi_documents_every_api_route(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/status",
        "/api/v1/workflows",
        "/api/v1/workflows/{workflow_id}",
        "/api/v1/validate",
        "/api/v1/workflows/{workflow}/runs",
        "/api/v1/runs/{run_id}/events",
        "/v1/chat/completions",
        "/v1/models",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}/steps",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/runs/{run_id}/retry",
        "/api/v1/runs/{run_id}/approve",
        "/api/v1/agents",
    ):
        assert path in paths, path
    assert not any(not path.startswith(("/api/", "/v1/")) for path in paths), (
        "pages stay out of the API schema"
    )
    assert "422" in paths["/api/v1/workflows"]["post"]["responses"]
    assert client.get("/api/v1/workflows/schema").json()["type"] == "object"


def test_the_api_reference_page_works_offline(client: TestClient) -> None:
    page = client.get("/api/docs").text
    assert 'data-operation="POST /api/v1/workflows"' in page
    assert 'data-operation="GET /api/v1/runs/{run_id}/steps"' in page
    assert 'id="model-RunIn"' in page
    assert "https://" not in page  # FastAPI's default page would load Swagger UI from a CDN
