"""Webhooks: a signed delivery starts one run, a repeated delivery id starts nothing,
a bad signature answers 401 and is counted (never stored one row each, even in a flood),
an oversized body answers 413."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from configurable_agents.queue.triggers import sign
from configurable_agents.storage.repositories import triggers
from tests.fakes.openai_server import FakeLLMServer
from tests.integration.queue.cluster import Cluster, three_node_workflow
from tests.integration.queue.conftest import ClusterFactory, api_client

SECRET = "test-signing-secret"
HOOK = "/api/v1/hooks/three-steps"


def delivery(body: bytes, delivery_id: str, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Signature-256": sign(secret, body),
        "X-Delivery-Id": delivery_id,
    }


def webhook_events(cluster: Cluster, status: str | None = None) -> list:
    with cluster.session_factory() as session:
        return list(
            triggers.list_events(
                session, workflow_name="three-steps", kind="webhook", status=status
            )
        )


@pytest.fixture
def hooked(make_cluster: ClusterFactory, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    cluster = make_cluster(fake_llm, WEBHOOK_MAX_BYTES="2048")
    cluster.store_workflow(three_node_workflow())
    return cluster


def test_a_signed_delivery_runs_once_even_when_repeated(
    hooked: Cluster, fake_llm: FakeLLMServer
) -> None:
    hooked.start_workers(1)
    client = api_client(hooked)
    body = json.dumps({"inputs": {"text": "[hook]"}}).encode()

    first = client.post(HOOK, content=body, headers=delivery(body, "delivery-1"))
    again = client.post(HOOK, content=body, headers=delivery(body, "delivery-1"))

    assert first.status_code == 202, first.text
    assert first.json()["state"] == "queued"
    run_id = first.json()["run_id"]
    assert again.status_code == 200
    assert again.json() == {"run_id": run_id, "duplicate": True, "delivery": "delivery-1"}
    run = hooked.wait_finished([run_id])[0]
    assert run.state == "completed" and run.trigger == "webhook"
    assert run.outputs["c"].endswith("[hook]")
    assert [r.id for r in hooked.runs()] == [run_id]
    assert len(fake_llm.requests) == 3
    events = webhook_events(hooked)
    assert [(e.status, e.idempotency_key, e.run_id) for e in events] == [
        ("accepted", "delivery-1", run_id)
    ]


def refused(client: Any) -> dict[tuple[str | None, int, str], int]:
    """(workflow, status, reason) -> count, as the API shows them."""
    answer = client.get("/api/v1/hooks")
    assert answer.status_code == 200, answer.text
    return {(r["workflow"], r["status"], r["reason"]): r["count"] for r in answer.json()["refused"]}


def table_rows(cluster: Cluster, table: str) -> int:
    with cluster.session_factory() as session:
        return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_bad_signatures_are_refused_and_counted(hooked: Cluster) -> None:
    client = api_client(hooked)
    body = json.dumps({"text": "[forged]"}).encode()

    wrong_secret = client.post(HOOK, content=body, headers=delivery(body, "d-1", "guess"))
    unsigned = client.post(
        HOOK, content=body, headers={"X-Delivery-Id": "d-2", "Content-Type": "application/json"}
    )
    tampered = client.post(
        HOOK, content=body.replace(b"forged", b"FORGED"), headers=delivery(body, "d-3")
    )

    for answer in (wrong_secret, unsigned, tampered):
        assert answer.status_code == 401
        assert "X-Signature-256" in answer.json()["detail"]
    assert hooked.runs() == []
    assert webhook_events(hooked) == []
    assert refused(client) == {
        ("three-steps", 401, "signature does not match"): 2,
        ("three-steps", 401, "missing signature"): 1,
    }


def test_a_flood_of_bad_posts_changes_counters_not_the_number_of_rows(hooked: Cluster) -> None:
    client = api_client(hooked)
    body = b'{"text": "flood"}'
    before = {table: table_rows(hooked, table) for table in ("trigger_events", "refusal_counts")}

    for number in range(200):
        # Forged signatures, to a stored workflow and to made-up names.
        path = HOOK if number % 2 else f"/api/v1/hooks/made-up-{number}"
        answer = client.post(path, content=body, headers=delivery(body, f"f-{number}", "guess"))
        assert answer.status_code == 401

    assert table_rows(hooked, "trigger_events") == before["trigger_events"]
    # Two counters: one for the stored workflow, one for every name that is not stored.
    assert table_rows(hooked, "refusal_counts") <= before["refusal_counts"] + 2
    assert refused(client) == {
        ("three-steps", 401, "signature does not match"): 100,
        (None, 401, "signature does not match"): 100,
    }
    assert sum(refused(client).values()) == 200


def test_oversized_bodies_and_bad_deliveries_get_clear_answers(hooked: Cluster) -> None:
    client = api_client(hooked)
    big = json.dumps({"text": "x" * 4000}).encode()
    not_json = b"text=hello"
    unknown_input = json.dumps({"inputs": {"txt": "typo"}}).encode()
    fine = json.dumps({"text": "ok"}).encode()

    oversized = client.post(HOOK, content=big, headers=delivery(big, "big"))
    garbled = client.post(HOOK, content=not_json, headers=delivery(not_json, "nj"))
    typo = client.post(HOOK, content=unknown_input, headers=delivery(unknown_input, "typo"))
    no_id = client.post(HOOK, content=fine, headers={"X-Signature-256": sign(SECRET, fine)})
    elsewhere = client.post(
        "/api/v1/hooks/no-such-workflow", content=fine, headers=delivery(fine, "nw")
    )

    assert oversized.status_code == 413
    assert "WEBHOOK_MAX_BYTES" in oversized.json()["detail"]
    assert garbled.status_code == 400 and "not JSON" in garbled.json()["detail"]
    assert typo.status_code == 422 and "unknown input 'txt'" in typo.json()["detail"]
    assert no_id.status_code == 400 and "X-Delivery-Id" in no_id.json()["detail"]
    assert elsewhere.status_code == 404
    assert hooked.runs() == []
    # Correctly signed refusals keep their delivery id; the rest are counted.
    details = sorted(e.detail.split(":")[0] for e in webhook_events(hooked, status="rejected"))
    assert details == ["HTTP 400", "HTTP 400", "HTTP 422"]
    assert refused(client) == {
        ("three-steps", 413, "body too large"): 1,
        (None, 404, "no such workflow"): 1,
    }


def test_webhooks_are_off_until_the_secret_is_set(
    hooked: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET")
    body = b"{}"

    answer = api_client(hooked).post(HOOK, content=body, headers=delivery(body, "d"))

    assert answer.status_code == 403
    assert "WEBHOOK_SECRET" in answer.json()["detail"]
    assert refused(api_client(hooked)) == {
        ("three-steps", 403, "webhooks are off (no signing secret)"): 1
    }
