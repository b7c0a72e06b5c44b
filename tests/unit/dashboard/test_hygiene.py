"""Input hygiene at the edges (issue 12): values no database can keep are refused with 422
naming the field before anything is stored; oversized integers answer 404/422, never 500;
control characters in a config give a located issue; rows already stored that a page
cannot encode are shown escaped."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from configurable_agents.bootstrap import Database
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, Workflow
from tests.unit.dashboard.conftest import SUMMARIZE_YAML, TYPED_YAML, store_run, store_workflow

HUGE = "99999999999999999999"


def run_count(database: Database) -> int:
    with session_scope(database.session_factory) as session:
        return session.scalar(select(func.count()).select_from(Run)) or 0


def json_body(payload: str) -> dict[str, str]:
    """Headers for a raw JSON text (``\\ud800`` escapes that json.dumps would keep)."""
    return {"content-type": "application/json"}


# --- text no database can keep --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        ('{"inputs": {"text": "x \\ud800"}}', "lone surrogate"),
        ('{"inputs": {"text": "x \\u0000 y"}}', "NUL"),
        ('{"inputs": {"text": "ok", "\\udfff": "key"}}', "lone surrogate"),
        ('{"inputs": {"text": NaN}}', "finite"),
    ],
)
def test_start_run_refuses_unstorable_text_and_stores_nothing(
    client: TestClient, dashboard_database: Database, raw: str, what: str
) -> None:
    workflow_id = store_workflow(dashboard_database)
    for _ in range(3):
        response = client.post(
            f"/api/v1/workflows/{workflow_id}/runs", content=raw.encode(), headers=json_body(raw)
        )
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"][:2] == ["body", "inputs"]
        assert what in error["msg"]
    assert run_count(dashboard_database) == 0
    # Nothing poisoned: the lists still answer.
    assert client.get("/api/v1/runs").status_code == 200
    assert client.get("/runs").status_code == 200


def test_run_form_refuses_nul_and_stores_nothing(
    client: TestClient, dashboard_database: Database, csrf: str
) -> None:
    workflow_id = store_workflow(dashboard_database)
    response = client.post(
        f"/workflows/{workflow_id}/run", data={"text": "a\x00b", "csrf_token": csrf}
    )
    assert response.status_code == 422
    assert "text" in response.text and "NUL" in response.text
    assert run_count(dashboard_database) == 0


def test_workflow_api_refuses_unstorable_note(
    client: TestClient, dashboard_database: Database
) -> None:
    raw = json.dumps({"config_yaml": SUMMARIZE_YAML})[:-1] + ', "note": "\\ud83d"}'
    response = client.post("/api/v1/workflows", content=raw.encode(), headers=json_body(raw))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "note"]
    with session_scope(dashboard_database.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Workflow)) == 0


def test_nul_in_path_and_query_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/runs/abc%00def")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "run_id"]
    response = client.get("/api/v1/palette?q=a%00")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "q"]


# --- integers past 64 bits ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/workflows/{HUGE}",
        f"/api/v1/workflows/{HUGE}/versions",
        f"/api/v1/workflows/1/versions/{HUGE}",
        f"/api/v1/runs?workflow_id={HUGE}",
        f"/api/v1/workflows?offset={HUGE}",
        f"/api/v1/experiments/{HUGE}",
        f"/api/v1/workflows/-{HUGE}",
    ],
)
def test_huge_integers_in_api_params_answer_422(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (404, 422), response.text
    if response.status_code == 422:
        assert "out of range" in response.json()["detail"][0]["msg"]


def test_huge_integer_page_and_body(client: TestClient, dashboard_database: Database) -> None:
    assert client.get(f"/workflows/{HUGE}").status_code in (404, 422)
    workflow_id = store_workflow(dashboard_database)
    raw = '{"inputs": {"text": "hi"}, "version": ' + HUGE + "}"
    response = client.post(
        f"/api/v1/workflows/{workflow_id}/runs", content=raw.encode(), headers=json_body(raw)
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "version"]
    assert run_count(dashboard_database) == 0


# --- control characters in configs ----------------------------------------------------------


@pytest.mark.parametrize("char", ["\x08", "\x00", "\x9b", "\x7f", "\ufffe"])
def test_control_characters_in_config_give_a_located_issue(
    client: TestClient, dashboard_database: Database, char: str
) -> None:
    bad = SUMMARIZE_YAML.replace("Summarize a text", f"Summ{char}arize a text")
    line = next(i for i, row in enumerate(bad.split("\n"), 1) if char in row)
    column = bad.split("\n")[line - 1].index(char) + 1
    response = client.post("/api/v1/validate", json={"config_yaml": bad})
    if char == "\x00":
        # NUL is refused at the door like any unstorable text.
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "config_yaml"]
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is False
    assert body["issues"][0]["line"] == line
    assert body["issues"][0]["column"] == column
    assert "cannot appear in YAML" in body["issues"][0]["message"]
    response = client.post("/api/v1/workflows", json={"config_yaml": bad})
    assert response.status_code == 422
    (issue,) = response.json()["detail"]
    assert (issue["line"], issue["column"]) == (line, column)
    # The editor's live check draws the issue too.
    client.get("/settings")
    response = client.post(
        "/workflows/validate",
        data={"config_yaml": bad, "csrf_token": client.cookies["ca_csrf"]},
    )
    assert response.status_code == 200
    assert "cannot appear in YAML" in response.text


# --- rows already stored that cannot be encoded ----------------------------------------------


def poison(database: Database, run_id: str) -> None:
    """Write what an older version stored: JSON text whose escapes decode to a lone surrogate."""
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE runs SET inputs = :inputs, error_message = :message, "
                "workflow_name = :name WHERE id = :id"
            ),
            {
                "inputs": '{"text": "x \\ud800 y"}',
                "message": "bad \x00 end",
                "name": "summarize",
                "id": run_id,
            },
        )


def test_stored_unencodable_rows_are_shown_escaped(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database, TYPED_YAML)
    good = store_run(dashboard_database, workflow_id, state="completed")
    bad = store_run(dashboard_database, workflow_id, state="failed")
    poison(dashboard_database, bad)

    listing = client.get("/api/v1/runs")
    assert listing.status_code == 200
    assert {item["id"] for item in listing.json()["items"]} == {good, bad}
    one = client.get(f"/api/v1/runs/{bad}")
    assert one.status_code == 200
    assert one.json()["inputs"]["text"] == "x \ud800 y"  # a JSON \\ud800 escape: faithful
    for url in ("/runs", f"/runs/{bad}", "/", f"/workflows/{workflow_id}"):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/runs/{bad}").text
    assert "x \\ud800 y" in page
    # Retrying would store the same inputs again: refused, naming them; nothing new stored.
    retried = client.post(f"/api/v1/runs/{bad}/retry", headers=json_body(""))
    assert retried.status_code == 422, retried.text
    assert retried.json()["detail"][0]["loc"] == ["inputs", "text"]
    assert run_count(dashboard_database) == 2
    cancelled = client.post(f"/api/v1/runs/{bad}/cancel", headers=json_body(""))
    assert cancelled.status_code == 409


def test_surrogate_escapes_in_yaml_are_a_located_issue(client: TestClient) -> None:
    # "\ud83d\ude00" in double quotes: YAML reads two lone surrogates, not one emoji.
    bad = SUMMARIZE_YAML.replace("name: summarize", 'name: "a\\ud83d\\ude00"')
    response = client.post("/api/v1/validate", json={"config_yaml": bad})
    assert response.status_code == 200
    issue = response.json()["issues"][0]
    assert (issue["line"], issue["column"]) == (2, 7)
    assert "lone surrogate" in issue["message"]


def test_a_copy_named_with_an_emoji_stays_readable(
    client: TestClient, dashboard_database: Database
) -> None:
    """Found by schemathesis: the copy's config spelled the name with \\u escapes."""
    workflow_id = store_workflow(dashboard_database)
    response = client.post(f"/api/v1/workflows/{workflow_id}/duplicate", json={"name": "x😀"})
    assert response.status_code == 201
    copy_id = response.json()["id"]
    assert client.get(f"/api/v1/workflows/{copy_id}").status_code == 200
    assert client.get(f"/api/v1/workflows/{copy_id}/versions").status_code == 200
    assert client.get(f"/workflows/{copy_id}").status_code == 200
    started = client.post(f"/api/v1/workflows/{copy_id}/runs", json={})
    assert started.status_code in (201, 422), started.text


def test_webhook_with_a_lone_surrogate_is_refused_and_stores_no_run(
    client: TestClient, dashboard_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from configurable_agents.queue.triggers import sign

    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    store_workflow(dashboard_database)
    body = b'{"inputs": {"text": "x \\ud800"}}'
    response = client.post(
        "/api/v1/hooks/summarize",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Signature-256": sign("s3cret", body),
            "X-Delivery-Id": "d-1",
        },
    )
    assert response.status_code == 422, response.text
    assert "inputs.text" in response.json()["detail"]
    assert run_count(dashboard_database) == 0
    assert client.get("/api/v1/runs").status_code == 200
