"""Promoting a variant of a completed experiment to a new version of its workflow."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.experiments.errors import ExperimentStateError, PromoteError
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import experiments, workflows


def promote_variant(
    session_factory: sessionmaker[Session], experiment_id: int, variant_name: str
) -> tuple[int, int]:
    """Store the variant's config as a new version of the experiment's workflow; returns
    (workflow id, version number). PromoteError when it has no config or the workflow is gone."""
    with session_scope(session_factory) as session:
        experiment = experiments.get(session, experiment_id)
        variant = experiments.variant(session, experiment, variant_name)
        if experiment.status != "completed":
            raise ExperimentStateError(
                f"experiment {experiment.name} is {experiment.status}; promote a variant of a completed one"
            )
        if not variant.config_yaml or experiment.workflow_id is None:
            raise PromoteError(f"variant {variant_name} has no stored config to promote")
        workflow = workflows.get(session, experiment.workflow_id)
        if workflow is None:
            raise PromoteError(f"the workflow of experiment {experiment.name} was deleted")
        version = workflows.add_version(
            session,
            workflow,
            config_yaml=variant.config_yaml,
            note=f"promoted from experiment {experiment.name}, variant {variant_name}",
        )
        return workflow.id, version.version
