"""Runs started by triggers: webhook deliveries and schedule ticks, each exactly once.

Webhooks: ``POST /api/v1/hooks/{workflow}`` with a JSON body, either ``{"inputs": {...}}``
or the inputs object itself, and two headers:

- ``X-Signature-256: sha256=<hex>``: the HMAC-SHA256 of the raw body keyed with the
  secret in the environment variable named by WEBHOOK_SECRET_ENV (``X-Hub-Signature-256``,
  GitHub's name, is accepted too). It is compared in constant time; a wrong or missing
  signature answers 401.
- ``X-Delivery-Id: <unique id>`` (or ``X-GitHub-Delivery``): a repeat of a delivery id
  starts nothing and answers 200 with the run the first delivery started.

Answers: 202 run queued, 200 repeat, 400 no delivery id or body not JSON, 401 bad
signature, 403 no secret configured, 404 no such workflow, 413 body larger than
WEBHOOK_MAX_BYTES, 422 inputs that do not fit the workflow, 429 queue full.

Refusals of senders nobody authenticated (403, 401, 413, and 404 for a name that is not
stored) are counted per workflow and reason in ``refusal_counts``, not stored one row each:
a thousand forged posts change one number. Refusals of a correctly signed delivery (400,
422, 429) are kept as rejected trigger events with their delivery id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.queue.dispatch import create_checked_run, enqueue_new
from configurable_agents.queue.errors import REFUSALS, http_status
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import (
    NotFoundError,
    WorkflowNotFoundError,
    WorkflowVersionNotFoundError,
)
from configurable_agents.storage.repositories import refusals, triggers, workflows

log = logging.getLogger(__name__)
SIGNATURE_HEADERS = ("x-signature-256", "x-hub-signature-256")
DELIVERY_HEADERS = ("x-delivery-id", "x-github-delivery")
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Triggered:
    """The run a trigger started, or the one an earlier delivery of the same key started."""

    run_id: str | None
    duplicate: bool
    event_id: int


def start_triggered_run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    workflow_name: str,
    kind: str,
    key: str,
    inputs: dict[str, Any],
    detail: str = "",
) -> Triggered:
    """Start a run of the workflow's latest version once per (workflow, kind, key).

    The trigger event and the run are stored in one transaction, so a repeat (even at the
    same moment, from another worker or request) finds the first one and starts nothing.
    """

    with session_scope(session_factory) as session:
        workflow = workflows.get_by_name(session, workflow_name)
        if workflow is None:
            raise WorkflowNotFoundError(f"no workflow named {workflow_name!r}")
        earlier = triggers.get_accepted(session, workflow_name=workflow.name, kind=kind, key=key)
        if earlier is not None:
            return Triggered(earlier.run_id, True, earlier.id)
        version = workflows.get_version(session, workflow.id)
        if version is None:
            raise WorkflowVersionNotFoundError(f"workflow {workflow_name!r} has no version")
        recorded = triggers.record(
            session, workflow_name=workflow.name, kind=kind, key=key, detail=detail
        )
        if recorded.duplicate:
            return Triggered(recorded.event.run_id, True, recorded.event.id)
        # A refusal here (inputs, full queue) rolls the event back with the run.
        run = create_checked_run(session, settings, workflow, version, inputs, kind)
        triggers.attach_run(session, recorded.event, run.id)
        event_id = recorded.event.id
    enqueue_new(settings, session_factory, run)
    return Triggered(run.id, False, event_id)


# --- webhooks ------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The signature header value for a body: ``sha256=<hex HMAC>`` (for senders and tests)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """Whether the header carries the body's HMAC-SHA256 under the secret (constant time)."""
    expected = sign(secret, body).encode()
    return hmac.compare_digest(expected, header.strip().encode())


def webhook_secret(settings: Settings) -> str:
    """The signing secret from the environment variable WEBHOOK_SECRET_ENV names ('' if unset)."""
    return os.environ.get(settings.webhook_secret_env, "") if settings.webhook_secret_env else ""


@dataclass
class WebhookAnswer:
    """The HTTP answer to a delivery."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def too_large(
    settings: Settings, session_factory: sessionmaker[Session], workflow: str
) -> WebhookAnswer:
    """The 413 answer for a body over WEBHOOK_MAX_BYTES (recorded for a known workflow)."""
    message = f"the body is larger than {settings.webhook_max_bytes} bytes (WEBHOOK_MAX_BYTES)"
    _count_refusal(session_factory, workflow, 413, REASON_TOO_LARGE)
    return WebhookAnswer(413, {"detail": message})


def handle_webhook(
    settings: Settings,
    session_factory: sessionmaker[Session],
    workflow: str,
    body: bytes,
    headers: Mapping[str, str],
) -> WebhookAnswer:
    """Check and act on one delivery whose body was read within WEBHOOK_MAX_BYTES."""
    headers = {name.lower(): value for name, value in headers.items()}
    delivery = next((headers[h] for h in DELIVERY_HEADERS if headers.get(h)), "").strip()
    key = delivery[:MAX_KEY_LENGTH]

    def refuse(status: int, message: str) -> WebhookAnswer:
        _record_refusal(session_factory, workflow, key, status, message)
        return WebhookAnswer(status, {"detail": message})

    def count(status: int, reason: str, message: str) -> WebhookAnswer:
        _count_refusal(session_factory, workflow, status, reason)
        return WebhookAnswer(status, {"detail": message})

    secret = webhook_secret(settings)
    if not secret:
        return count(
            403,
            REASON_OFF,
            f"webhooks are off: set the environment variable {settings.webhook_secret_env} "
            "(named by WEBHOOK_SECRET_ENV) to the signing secret",
        )
    signature = next((headers[h] for h in SIGNATURE_HEADERS if headers.get(h)), "")
    if not signature:
        return count(
            401,
            REASON_NO_SIGNATURE,
            "missing X-Signature-256 header (sha256=<HMAC-SHA256 of the body>)",
        )
    if not signature_matches(secret, body, signature):
        return count(
            401, REASON_BAD_SIGNATURE, "the X-Signature-256 signature does not match the body"
        )
    if not key:
        return refuse(400, "missing X-Delivery-Id header: a unique id per delivery")
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        return refuse(400, f"the body is not JSON: {error}")
    if not isinstance(payload, dict):
        return refuse(422, 'the body must be a JSON object: {"inputs": {...}}')
    inputs = payload["inputs"] if isinstance(payload.get("inputs"), dict) else payload
    try:
        started = start_triggered_run(
            settings,
            session_factory,
            workflow_name=workflow,
            kind="webhook",
            key=key,
            inputs=inputs,
            detail=f"delivery {key}",
        )
    except NotFoundError as error:
        return count(404, REASON_UNKNOWN, str(error))
    except REFUSALS as error:
        return refuse(http_status(error), str(error))
    if started.duplicate:
        return WebhookAnswer(200, {"run_id": started.run_id, "duplicate": True, "delivery": key})
    return WebhookAnswer(
        202, {"run_id": started.run_id, "state": "queued", "duplicate": False, "delivery": key}
    )


REASON_OFF = "webhooks are off (no signing secret)"
REASON_NO_SIGNATURE = "missing signature"
REASON_BAD_SIGNATURE = "signature does not match"
REASON_TOO_LARGE = "body too large"
REASON_UNKNOWN = "no such workflow"
# Counters carry the workflow's name only when it is stored: any other name counts under
# this one subject, so made-up names cannot add rows either.
UNKNOWN_SUBJECT = ""


def _count_refusal(
    session_factory: sessionmaker[Session], workflow: str, status: int, reason: str
) -> None:
    """Add one to the counter of this refusal (never a row per request)."""

    log.info("webhook for %.200r refused (HTTP %d): %s", workflow, status, reason)
    try:
        with session_scope(session_factory) as session:
            known = workflows.get_by_name(session, workflow) is not None
            refusals.count(
                session,
                source="webhook",
                subject=workflow if known else UNKNOWN_SUBJECT,
                status=status,
                reason=reason,
            )
    except Exception as error:  # the answer to the sender matters more than the count
        log.warning("could not count the refused webhook: %s", error)


def refused_webhooks(
    session_factory: sessionmaker[Session], workflow: str | None = None
) -> list[dict[str, Any]]:
    """The counters of refused webhook deliveries (``workflow`` None for every name; the
    empty name stands for workflows that are not stored)."""

    with session_factory() as session:
        return [
            {
                "workflow": row.subject or None,
                "status": row.status,
                "reason": row.reason,
                "count": row.count,
                "first_at": row.first_at.isoformat(),
                "last_at": row.last_at.isoformat(),
            }
            for row in refusals.list_refusals(session, source="webhook", subject=workflow)
        ]


def webhook_deliveries(
    session_factory: sessionmaker[Session], workflow: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The latest stored deliveries (accepted, and refused after a valid signature)."""

    with session_factory() as session:
        return [
            {
                "id": event.id,
                "workflow": event.workflow_name,
                "delivery": event.idempotency_key,
                "status": event.status,
                "detail": event.detail,
                "run_id": event.run_id,
                "received_at": event.received_at.isoformat(),
            }
            for event in triggers.list_events(
                session, workflow_name=workflow, kind="webhook", limit=limit
            )
        ]


def _record_refusal(
    session_factory: sessionmaker[Session], workflow: str, key: str, status: int, message: str
) -> None:
    """Keep a refused, correctly signed delivery of a known workflow (unknown names are not
    stored)."""

    log.warning("webhook for %s refused (HTTP %d): %s", workflow, status, message)
    try:
        with session_scope(session_factory) as session:
            if workflows.get_by_name(session, workflow) is None:
                return
            triggers.record_rejected(
                session,
                workflow_name=workflow,
                kind="webhook",
                key=key or "-",
                detail=f"HTTP {status}: {message}",
            )
    except Exception as error:  # the answer to the sender matters more than the record
        log.warning("could not record the refused webhook: %s", error)
