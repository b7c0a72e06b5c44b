"""Experiment commands: create a draft experiment (variants of a workflow over a dataset)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from configurable_agents.storage.repositories import experiments, workflows
from dashboard.deps import DB
from dashboard.pages.optimization import experiment_out
from dashboard.schemas import CONFLICT, ERRORS, ExperimentIn, ExperimentOut

router = APIRouter(responses=ERRORS)


@router.post(
    "/api/v1/experiments",
    response_model=ExperimentOut,
    status_code=201,
    tags=["experiments"],
    responses=CONFLICT,
)
def create_experiment(session: DB, body: ExperimentIn) -> Any:
    """A draft experiment: variants of a workflow compared over a dataset."""
    if body.workflow_id is not None:
        workflows.require(session, body.workflow_id)
    experiment = experiments.create(
        session,
        name=body.name,
        variants=body.variants,
        dataset=body.dataset,
        workflow_id=body.workflow_id,
        description=body.description,
    )
    session.commit()
    return experiment_out(experiment, experiments.summary(session, experiment))
