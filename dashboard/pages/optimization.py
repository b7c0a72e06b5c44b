"""Optimization: experiments comparing workflow variants over a dataset, and their results;
the JSON twins are /api/v1/experiments and /api/v1/experiments/{id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.storage.models import Experiment
from configurable_agents.storage.repositories import experiments, workflows
from dashboard.deps import DB
from dashboard.render import page
from dashboard.schemas import ExperimentOut, VariantSummaryOut

router = APIRouter()

EXAMPLE_REQUEST = """curl -X POST http://127.0.0.1:7861/api/v1/experiments \\
  -H 'content-type: application/json' -d '{
    "name": "shorter-prompt",
    "workflow_id": 1,
    "variants": {"baseline": {}, "terse": {"nodes.summarize.prompt": "One line: {text}"}},
    "dataset": [{"text": "first input"}, {"text": "second input"}]
  }'"""


def experiments_context(session: Session) -> dict[str, Any]:
    """Every experiment and the names of the workflows they vary."""
    found = list(experiments.list_experiments(session))
    names = {w.id: w.name for w in workflows.list_workflows(session, limit=1000)}
    return {"experiments": found, "workflow_names": names, "example_request": EXAMPLE_REQUEST}


def experiment_context(session: Session, experiment_id: int) -> dict[str, Any]:
    """One experiment: its workflow, a summary per variant, the best one, every result."""
    experiment = experiments.get(session, experiment_id)
    workflow = workflows.get(session, experiment.workflow_id) if experiment.workflow_id else None
    summaries = experiments.summary(session, experiment)
    best = max(
        (s for s in summaries if s.mean_score is not None),
        key=lambda s: s.mean_score or 0.0,
        default=None,
    )
    return {
        "experiment": experiment,
        "workflow": workflow,
        "summaries": summaries,
        "best": best,
        "results": experiments.list_results(session, experiment),
        "variant_names": {v.id: v.name for v in experiment.variants},
    }


def experiment_out(experiment: Experiment, summaries: list[Any] | None = None) -> ExperimentOut:
    """An experiment as the API answers it (with its per-variant summary when given)."""
    return ExperimentOut(
        id=experiment.id,
        name=experiment.name,
        workflow_id=experiment.workflow_id,
        description=experiment.description,
        status=experiment.status,
        dataset_items=len(experiment.dataset),
        variants=[variant.name for variant in experiment.variants],
        created_at=experiment.created_at,
        summary=[VariantSummaryOut(**s.__dict__) for s in summaries or []],
    )


@router.get("/optimization", response_class=HTMLResponse, include_in_schema=False)
def experiments_page(request: Request, session: DB) -> HTMLResponse:
    return page(request, "optimization/list.html", experiments_context(session))


@router.get("/optimization/{experiment_id}", response_class=HTMLResponse, include_in_schema=False)
def experiment_page(request: Request, session: DB, experiment_id: int) -> HTMLResponse:
    return page(request, "optimization/detail.html", experiment_context(session, experiment_id))


@router.get("/api/v1/experiments", response_model=list[ExperimentOut], tags=["experiments"])
def list_experiments(session: DB) -> Any:
    return [experiment_out(e) for e in experiments_context(session)["experiments"]]


@router.get(
    "/api/v1/experiments/{experiment_id}", response_model=ExperimentOut, tags=["experiments"]
)
def get_experiment(session: DB, experiment_id: int) -> Any:
    context = experiment_context(session, experiment_id)
    return experiment_out(context["experiment"], context["summaries"])
