"""One run: its steps, its workflow's graph coloured by progress, its actions; built in
one place (``run_context``) for the page, its HTMX body and /api/v1/runs/{id}."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.experiments.service import list_datasets
from configurable_agents.storage.models import Run, RunStep, WorkflowVersion
from configurable_agents.storage.repositories import runs, steps
from configurable_agents.storage.states import RunState
from dashboard.deps import DB, hx_target, tick_of
from dashboard.graph_svg import node_order, render_graph
from dashboard.live.snapshot import RunProgress, StepMark, progress_from_run
from dashboard.render import page, partial
from dashboard.schemas import RunOut, StepOut
from dashboard.workflow_lang import Checked, check, graph_of

router = APIRouter()


@dataclass
class RunDetail:
    """Everything the run page shows; the graph is checked and drawn only when used."""

    run: Run
    steps: list[RunStep]
    version: WorkflowVersion | None

    @cached_property
    def checked(self) -> Checked | None:
        """The run's workflow version, checked (None when the version is gone)."""
        return check(self.version.config_yaml) if self.version is not None else None

    @cached_property
    def progress(self) -> RunProgress:
        """The same shape the live stream sends, from the stored steps."""
        progress = progress_from_run(self.run)
        progress.steps = [StepMark(step.seq, step.node, step.state) for step in self.steps]
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


def run_context(session: Session, run_id: str) -> RunDetail:
    """The run, its steps in order and its workflow version (RunNotFoundError when missing)."""
    run = runs.require(session, run_id)
    version = (
        session.get(WorkflowVersion, run.workflow_version_id)
        if run.workflow_version_id is not None
        else None
    )
    return RunDetail(run=run, steps=list(steps.list_for_run(session, run_id)), version=version)


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
    return run_context(session, run_id).run


@router.get("/api/v1/runs/{run_id}/steps", response_model=list[StepOut], tags=["runs"])
def get_steps(session: DB, run_id: str) -> Any:
    """Every step of the run in order: rendered prompt, output, tokens, cost, latency, error."""
    return run_context(session, run_id).steps
