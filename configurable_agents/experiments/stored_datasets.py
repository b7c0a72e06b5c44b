"""Stored datasets: importing a CSV/JSONL file as a dataset version, adding a finished
run as a row, listing the latest versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import ConfigIssue
from configurable_agents.config.loader import load_config
from configurable_agents.experiments import datasets as dataset_files
from configurable_agents.experiments.errors import DefinitionError, ExperimentStateError
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import RunNotFoundError
from configurable_agents.storage.repositories import datasets as dataset_store
from configurable_agents.storage.repositories import runs, workflows
from configurable_agents.storage.states import RunState


@dataclass(frozen=True)
class DatasetInfo:
    """A stored dataset version."""

    id: int
    name: str
    version: int
    rows: int
    workflow_id: int | None
    source: str
    created_at: datetime


def _info(dataset: Any) -> DatasetInfo:
    return DatasetInfo(
        dataset.id,
        dataset.name,
        dataset.version,
        len(dataset.rows),
        dataset.workflow_id,
        dataset.source,
        dataset.created_at,
    )


def import_dataset(
    session_factory: sessionmaker[Session],
    *,
    name: str,
    data: bytes,
    filename: str,
    workflow_id: int,
    version: int | None = None,
) -> DatasetInfo:
    """Check every row of a CSV/JSONL file against the workflow's inputs and store it as the
    next version of dataset ``name``. DatasetError (nothing stored) on any bad row."""
    with session_scope(session_factory) as session:
        workflow = workflows.require(session, workflow_id)
        stored = workflows.get_version(session, workflow.id, version)
        if stored is None:
            raise DefinitionError(
                [
                    ConfigIssue(
                        "<form>",
                        None,
                        None,
                        "version",
                        f"workflow {workflow.name} has no version {version}",
                    )
                ]
            )
        config = load_config(stored.config_yaml, filename=f"{workflow.name}.yaml")
        rows = dataset_files.parse_dataset(data, filename=filename, config=config)
        return _info(
            dataset_store.add_version(
                session, name=name, rows=rows, source=filename, workflow_id=workflow.id
            )
        )


def add_run_to_dataset(
    session_factory: sessionmaker[Session], *, run_id: str, dataset_name: str
) -> DatasetInfo:
    """The run's inputs (and its outputs as expected values) appended as a row: the next
    version of the dataset (created when new). Only a completed run can be added."""
    with session_scope(session_factory) as session:
        run = runs.get(session, run_id)
        if run is None:
            raise RunNotFoundError(f"no run with id {run_id}")
        if run.state != RunState.COMPLETED:
            raise ExperimentStateError(
                f"run {run_id} is {run.state}; only a completed run can be added"
            )
        outputs = run.outputs or {}
        # The outputs hold the whole final state: the inputs are not expected values.
        expected = {key: value for key, value in outputs.items() if key not in run.inputs}
        row = {"inputs": dict(run.inputs), "expected": expected}
        try:
            previous = list(dataset_store.get(session, dataset_name).rows)
        except LookupError:
            previous = []
        return _info(
            dataset_store.add_version(
                session,
                name=dataset_name,
                rows=[*previous, row],
                source=f"run {run_id}",
                workflow_id=run.workflow_id,
            )
        )


def list_datasets(session: Session) -> list[DatasetInfo]:
    """The latest version of every dataset."""
    return [_info(dataset) for dataset in dataset_store.list_latest(session)]
