"""Run commands: start, cancel, retry, approve; for the pages' forms and the API alike.

Starting, cancelling, retrying and approving go through configurable_agents.queue.dispatch
so every entry point gets the same rules; this module adds the typed run form.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.queue.dispatch import (
    Decision,
    cancel_run,
    decide_approval,
    retry_run,
    start_run,
)
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run
from dashboard.queries import stored_version
from dashboard.workflow_lang import Checked, check, coerce_inputs


def checked_version(session: Session, workflow_id: int, version: int | None = None) -> Checked:
    """The checked config of a workflow version (the latest by default)."""
    stored = stored_version(session, workflow_id, version)
    return checked_text(stored.config_yaml)


@lru_cache(maxsize=256)
def checked_text(text: str) -> Checked:
    """A stored version's text, checked once per process: parsing with line marks costs tens
    of ms, a version's text never changes, and callers only read the result."""
    return check(text)


def start(
    settings: Settings,
    session_factory: sessionmaker[Session],
    workflow_id: int,
    values: dict[str, Any],
    *,
    version: int | None = None,
    trigger: str = "dashboard",
) -> Run:
    """Check the inputs against the workflow's typed fields, then queue a run."""
    with session_scope(session_factory) as session:
        checked = checked_version(session, workflow_id, version)
    inputs, errors = coerce_inputs(checked, values)
    if errors:
        raise InvalidInputsError([f"input '{name}': {message}" for name, message in errors.items()])
    return start_run(
        settings,
        session_factory,
        workflow_id=workflow_id,
        inputs=inputs,
        trigger=trigger,
        version=version,
    )


def cancel(session_factory: sessionmaker[Session], run_id: str) -> Run:
    return cancel_run(session_factory, run_id)


def retry(settings: Settings, session_factory: sessionmaker[Session], run_id: str) -> Run:
    return retry_run(settings, session_factory, run_id, trigger="retry")


def decide(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: str,
    *,
    approved: bool,
    comment: str = "",
) -> Any:
    """Approve or reject a run waiting for a human."""
    return decide_approval(
        settings, session_factory, run_id, Decision(approved=approved, comment=comment)
    )
