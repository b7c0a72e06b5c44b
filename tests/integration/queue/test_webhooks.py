"""Webhooks: a signed delivery starts one run, a repeated delivery id starts nothing,
a bad signature answers 401 and is recorded, an oversized body answers 413."""

from __future__ import annotations

import json

import pytest

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


def test_bad_signatures_are_refused_and_recorded(hooked: Cluster) -> None:
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
    rejected = webhook_events(hooked, status="rejected")
    assert sorted(e.idempotency_key for e in rejected) == ["d-1", "d-2", "d-3"]
    assert all(e.detail.startswith("HTTP 401") for e in rejected)
    assert all(SECRET not in e.detail and "forged" not in e.detail for e in rejected)


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
    details = sorted(e.detail.split(":")[0] for e in webhook_events(hooked, status="rejected"))
    assert details == ["HTTP 400", "HTTP 400", "HTTP 413", "HTTP 422"]


def test_webhooks_are_off_until_the_secret_is_set(
    hooked: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET")
    body = b"{}"

    answer = api_client(hooked).post(HOOK, content=body, headers=delivery(body, "d"))

    assert answer.status_code == 403
    assert "WEBHOOK_SECRET" in answer.json()["detail"]
