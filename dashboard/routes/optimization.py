"""Optimization: experiments comparing workflow variants over a dataset, and their results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.storage.repositories import experiments, workflows
from dashboard.deps import db_session
from dashboard.render import page

router = APIRouter(include_in_schema=False)
DB = Annotated[Session, Depends(db_session)]

EXAMPLE_REQUEST = """curl -X POST http://127.0.0.1:7861/api/v1/experiments \\
  -H 'content-type: application/json' -d '{
    "name": "shorter-prompt",
    "workflow_id": 1,
    "variants": {"baseline": {}, "terse": {"nodes.summarize.prompt": "One line: {text}"}},
    "dataset": [{"text": "first input"}, {"text": "second input"}]
  }'"""


@router.get("/optimization", response_class=HTMLResponse)
def experiments_page(request: Request, session: DB) -> HTMLResponse:
    found = list(experiments.list_experiments(session))
    names = {w.id: w.name for w in workflows.list_workflows(session, limit=1000)}
    return page(
        request,
        "optimization/list.html",
        {"experiments": found, "workflow_names": names, "example_request": EXAMPLE_REQUEST},
    )


@router.get("/optimization/{experiment_id}", response_class=HTMLResponse)
def experiment_page(request: Request, session: DB, experiment_id: int) -> HTMLResponse:
    experiment = experiments.get(session, experiment_id)
    workflow = workflows.get(session, experiment.workflow_id) if experiment.workflow_id else None
    summaries = experiments.summary(session, experiment)
    best = max(
        (s for s in summaries if s.mean_score is not None),
        key=lambda s: s.mean_score or 0.0,
        default=None,
    )
    return page(
        request,
        "optimization/detail.html",
        {
            "experiment": experiment,
            "workflow": workflow,
            "summaries": summaries,
            "best": best,
            "results": experiments.list_results(session, experiment),
            "variant_names": {v.id: v.name for v in experiment.variants},
        },
    )
