"""One run: its steps, its workflow's graph coloured by progress, its actions; built in
one place (``run_context``) for the page, its HTMX body and /api/v1/runs/{id}."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.experiments.stored_datasets import list_datasets
from configurable_agents.storage.models import Run, RunEvent, RunStep, WorkflowVersion
from configurable_agents.storage.repositories import outbox, run_events, runs, steps
from configurable_agents.storage.states import RunState
from dashboard.deps import DB, hx_target, tick_of
from dashboard.graph_svg import node_order, render_graph
from dashboard.live.snapshot import RunProgress, StepMark, progress_from_run
from dashboard.render import page, partial
from dashboard.schemas import RunEventOut, RunOut, StepOut, TrackingOut
from dashboard.workflow_lang import Checked, check, graph_of

router = APIRouter()


@dataclass
class StepGroup:
    """A step with the steps stored under it (a tool-using node's tool calls)."""

    step: RunStep
    children: list[RunStep]


def nest_steps(found: list[RunStep]) -> list[StepGroup]:
    """The steps in order, each tool call under its node's step (``<node>#<visit>/...``).
    Calls of a node still running, whose own step is not stored yet, stand on their own."""
    parents = {step.step_key for step in found if step.step_key and "/" not in step.step_key}
    children: dict[str, list[RunStep]] = {}
    groups: list[StepGroup] = []
    for step in found:
        parent = parent_key(step.step_key)
        if parent is not None and parent in parents:
            children.setdefault(parent, []).append(step)
        else:
            groups.append(StepGroup(step, []))
    for group in groups:
        group.children = children.get(group.step.step_key or "", [])
    return groups


def parent_key(step_key: str | None) -> str | None:
    """The key of the step a nested step belongs under, None for a node's own step."""
    if not step_key or "/" not in step_key:
        return None
    # Under the node's own step, however deep (a call's child-run marker too).
    return step_key.split("/", 1)[0]


@dataclass
class RunDetail:
    """Everything the run page shows; the graph is checked and drawn only when used."""

    run: Run
    steps: list[RunStep]
    version: WorkflowVersion | None
    tracking: TrackingOut | None = None
    # The run's timeline: claimed again, taken over, enqueued again and why.
    events: list[RunEvent] = field(default_factory=list)

    @cached_property
    def checked(self) -> Checked | None:
        """The run's workflow version, checked (None when the version is gone)."""
        return check(self.version.config_yaml) if self.version is not None else None

    @cached_property
    def progress(self) -> RunProgress:
        """The same shape the live stream sends, from the stored steps."""
        progress = progress_from_run(self.run)
        # A tool call tells its node's state only while it waits for a person.
        progress.steps = [
            StepMark(step.seq, step.node, step.state)
            for step in self.steps
            if parent_key(step.step_key) is None or step.state == steps.AWAITING_APPROVAL
        ]
        progress.nodes = node_order(graph_of(self.checked)) if self.checked else []
        return progress

    @cached_property
    def graph_svg(self) -> str:
        """The workflow's graph with each node coloured by its state in this run."""
        if self.checked is None:
            return ""
        return render_graph(
            graph_of(self.checked),
            states=self.progress.node_states,
            dom_id=f"run-graph-{self.run.id}",
            title=f"Graph of {self.run.workflow_name}",
        )

    @property
    def live(self) -> bool:
        """Still changing: the page follows it on the live stream."""
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

    @cached_property
    def groups(self) -> list[StepGroup]:
        """The steps to show, tool calls nested under their node."""
        return nest_steps(self.steps)

    @property
    def waiting_step(self) -> RunStep | None:
        """The step a person is asked to decide on (what it asks is in its input)."""
        if not self.awaiting_approval:
            return None
        waiting = [step for step in self.steps if step.state == steps.AWAITING_APPROVAL]
        return waiting[-1] if waiting else None


def run_context(session: Session, run_id: str) -> RunDetail:
    """The run, its steps in order and its workflow version (RunNotFoundError when missing)."""
    run = runs.require(session, run_id)
    version = (
        session.get(WorkflowVersion, run.workflow_version_id)
        if run.workflow_version_id is not None
        else None
    )
    return RunDetail(
        run=run,
        steps=list(steps.list_for_run(session, run_id)),
        version=version,
        tracking=tracking_of(session, run),
        events=list(run_events.list_for_run(session, run_id)),
    )


def tracking_of(session: Session, run: Run) -> TrackingOut | None:
    """The run's MLflow record as the outbox holds it (None while the run has not ended)."""
    row = outbox.get(session, run.id)
    if row is None:
        off = (run.tracking_status or "").startswith("off")
        return TrackingOut(state="off", reason=run.tracking_status) if off else None
    return TrackingOut(
        state=row.state,  # type: ignore[arg-type]
        reason=row.last_error,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.state == outbox.PENDING else None,
        sent_at=row.sent_at,
        mlflow_run_id=row.mlflow_run_id,
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
def run_page(
    request: Request, session: DB, run_id: str, added: str = "", dataset_version: str = ""
) -> HTMLResponse:
    detail = run_context(session, run_id)
    snapshot = tick_of(request).latest
    context: dict[str, Any] = {
        "detail": detail,
        "run": detail.run,
        "progress": detail.progress,
        "graph_svg": detail.graph_svg,
        "snapshot_workers": snapshot.workers_alive if snapshot is not None else 0,
        # "Add to dataset" offers the datasets already kept, and says where the run went.
        "dataset_names": sorted({info.name for info in list_datasets(session)}),
        "added": added,
        "added_version": dataset_version if dataset_version.isdigit() else "",
    }
    if hx_target(request) == "run-body":
        return partial(request, "partials/_run_body.html", context)
    return page(request, "runs/detail.html", context)


@router.get("/api/v1/runs/{run_id}", response_model=RunOut, tags=["runs"])
def get_run(session: DB, run_id: str) -> Any:
    detail = run_context(session, run_id)
    timeline = [RunEventOut.model_validate(event) for event in detail.events]
    return RunOut.model_validate(detail.run).model_copy(
        update={"tracking": detail.tracking, "timeline": timeline}
    )


@router.get("/api/v1/runs/{run_id}/timeline", response_model=list[RunEventOut], tags=["runs"])
def get_timeline(session: DB, run_id: str) -> Any:
    """The run's timeline, oldest first: claimed again, taken over, enqueued again by the
    reconciler and why, an enqueue that failed."""
    return run_context(session, run_id).events


@router.get("/api/v1/runs/{run_id}/steps", response_model=list[StepOut], tags=["runs"])
def get_steps(session: DB, run_id: str) -> Any:
    """Every step of the run in order: rendered prompt, output, tokens, cost, latency, error."""
    return run_context(session, run_id).steps
