"""Runs: the filtered list in keyset pages, as a page and as /api/v1/runs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.storage.states import RunState
from dashboard import queries
from dashboard.deps import DB, hx_target, tick_of
from dashboard.errors import InvalidQueryError
from dashboard.live.snapshot import LiveSnapshot
from dashboard.queries import RunFilters
from dashboard.render import page, partial
from dashboard.schemas import RunOut, RunPageOut

router = APIRouter()
PAGE_SIZE = 50


def parse_day(name: str, text: str) -> date | None:
    """A YYYY-MM-DD query value (None when empty); a bad one names its parameter."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidQueryError(
            name, f"{name} must be a date like 2025-01-31, got {text!r}"
        ) from None


def parse_id(name: str, text: str) -> int | None:
    """A numeric id from query text (None when empty); a bad one names its parameter."""
    if not text.strip():
        return None
    if not text.strip().isdigit() or len(text.strip()) > 18:
        raise InvalidQueryError(name, f"{name} must be an id (a number), got {text!r}")
    return int(text)


def parse_filters(
    workflow: str = "", state: str = "", since: str = "", until: str = "", experiment: str = ""
) -> RunFilters:
    """Filters from query text (the page's and the API's); a bad value names its parameter."""
    workflow_id = None
    if workflow.strip():
        if not workflow.strip().isdigit():
            raise InvalidQueryError(
                "workflow", f"workflow must be a workflow id (a number), got {workflow!r}"
            )
        workflow_id = int(workflow)
    if state and state not in RunState.ALL:
        raise InvalidQueryError(
            "state", f"state must be one of {', '.join(RunState.ALL)}, got {state!r}"
        )
    return RunFilters(
        workflow_id=workflow_id,
        state=state or None,
        since=parse_day("since", since),
        until=parse_day("until", until),
        experiment_id=parse_id("experiment", experiment),
    )


def runs_context(
    session: Session,
    filters: RunFilters,
    *,
    cursor: str = "",
    limit: int = PAGE_SIZE,
    snapshot: LiveSnapshot | None = None,
) -> dict[str, Any]:
    """One page of runs under the filters, and what the filter form offers."""
    return {
        "page_runs": queries.runs_page(session, filters, cursor=cursor or None, limit=limit),
        "filters": filters,
        "cursor": cursor,
        "states": RunState.ALL,
        "workflow_choices": queries.workflow_choices(session),
        "snapshot": snapshot,
    }


@router.get("/runs", response_class=HTMLResponse, include_in_schema=False)
def run_list(
    request: Request,
    session: DB,
    workflow: str = "",
    state: str = "",
    since: str = "",
    until: str = "",
    cursor: str = "",
    experiment: str = "",
) -> HTMLResponse:
    filters = parse_filters(workflow, state, since, until, experiment)
    context = runs_context(session, filters, cursor=cursor, snapshot=tick_of(request).latest)
    if hx_target(request) == "runs-table":
        return partial(request, "partials/_runs_table.html", context)
    return page(request, "runs/list.html", context)


@router.get("/api/v1/runs", response_model=RunPageOut, tags=["runs"])
def list_runs(
    session: DB,
    workflow_id: int | None = None,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(RunState.ALL) + ")$")] = None,
    since: Annotated[str | None, Query(description="first day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(description="last day, YYYY-MM-DD")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    experiment_id: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="only this experiment's cells (hidden otherwise)"),
    ] = None,
) -> Any:
    """Runs newest first, filtered; keyset pages stay fast at any depth. The runs of
    experiments (their cells) are listed only with ``experiment_id``."""
    workflow = "" if workflow_id is None else str(workflow_id)
    experiment = "" if experiment_id is None else str(experiment_id)
    filters = parse_filters(workflow, state or "", since or "", until or "", experiment)
    found = runs_context(session, filters, cursor=cursor or "", limit=limit)["page_runs"]
    return RunPageOut(
        items=[RunOut.model_validate(run) for run in found.runs], next_cursor=found.next_cursor
    )
