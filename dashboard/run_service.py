"""Starting and steering runs from the pages and the API, and what a run page shows.

Starting, cancelling, retrying and approving go through configurable_agents.queue.dispatch
so every entry point gets the same rules; this module adds the typed run form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings
from configurable_agents.storage.models import Run, RunState, RunStep
from configurable_agents.storage.repositories import runs, steps
from dashboard.workflow_lang import Checked, check, coerce_inputs


class InvalidInputs(ValueError):
    """Run inputs that do not fit the workflow's typed fields; ``errors`` by field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


def checked_version(session: Session, workflow_id: int, version: int | None = None) -> Checked:
    """The checked config of a workflow version (the latest by default)."""
    from dashboard.workflow_service import stored_version

    stored = stored_version(session, workflow_id, version)
    return check(stored.config_yaml)


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
    from configurable_agents.queue.dispatch import start_run
    from configurable_agents.storage.database import session_scope

    with session_scope(session_factory) as session:
        checked = checked_version(session, workflow_id, version)
    inputs, errors = coerce_inputs(checked, values)
    if errors:
        raise InvalidInputs(errors)
    return start_run(
        settings,
        session_factory,
        workflow_id=workflow_id,
        inputs=inputs,
        trigger=trigger,
        version=version,
    )


def cancel(session_factory: sessionmaker[Session], run_id: str) -> Run:
    from configurable_agents.queue.dispatch import cancel_run

    return cancel_run(session_factory, run_id)


def retry(settings: Settings, session_factory: sessionmaker[Session], run_id: str) -> Run:
    from configurable_agents.queue.dispatch import retry_run

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
    from configurable_agents.queue.dispatch import Decision, decide_approval

    return decide_approval(
        settings, session_factory, run_id, Decision(approved=approved, comment=comment)
    )


@dataclass
class RunDetail:
    """Everything the run page shows."""

    run: Run
    steps: list[RunStep]
    checked: Checked | None
    progress: Any = None  # dashboard.live.RunProgress: the same shape the live stream sends

    @property
    def live(self) -> bool:
        return self.run.state not in RunState.FINISHED

    @property
    def can_cancel(self) -> bool:
        return self.run.state not in RunState.FINISHED

    @property
    def can_retry(self) -> bool:
        return self.run.state in (RunState.FAILED, RunState.CANCELLED)

    @property
    def awaiting_approval(self) -> bool:
        return self.run.state == RunState.AWAITING_APPROVAL


def run_detail(session: Session, run_id: str) -> RunDetail:
    """The run, its steps in order and its workflow's graph."""
    from configurable_agents.storage.models import WorkflowVersion
    from dashboard.graph_svg import node_order
    from dashboard.live import StepMark, progress_from_run
    from dashboard.workflow_lang import graph_of

    run = runs.require(session, run_id)
    found = list(steps.list_for_run(session, run_id))
    checked = None
    nodes: list[str] = []
    if run.workflow_version_id is not None:
        version = session.get(WorkflowVersion, run.workflow_version_id)
        if version is not None:
            checked = check(version.config_yaml)
            nodes = node_order(graph_of(checked))
    progress = progress_from_run(run)
    progress.steps = [StepMark(step.seq, step.node, step.state) for step in found]
    progress.nodes = nodes
    return RunDetail(run=run, steps=found, checked=checked, progress=progress)
