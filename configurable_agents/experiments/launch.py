"""Starting an experiment (one queued run per cell) and cancelling it."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.experiments.errors import ExperimentStateError
from configurable_agents.queue.dispatch import enqueue
from configurable_agents.queue.errors import QueueUnavailableError
from configurable_agents.queue.limits import check_queue_depth
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Experiment, Run, utcnow
from configurable_agents.storage.repositories import experiments, runs, workflows
from configurable_agents.storage.states import RunState

TRIGGER = "experiment"


def start_experiment(
    settings: Settings,
    session_factory: sessionmaker[Session],
    experiment_id: int,
    *,
    queue: bool = True,
) -> list[str]:
    """Create one queued run per cell (row x variant x repeat) and hand them to the workers
    (``queue=False``: the caller executes them, as ``--local`` does); the run ids.

    ExperimentStateError unless the experiment is a draft; QueueFullError when the cells
    would pass QUEUE_MAX_DEPTH; QueueUnavailableError (the cells not handed over fail).
    """
    run_ids: list[str] = []
    with session_scope(session_factory) as session:
        experiment = experiments.get(session, experiment_id)
        if experiment.status != "draft":
            raise ExperimentStateError(
                f"experiment {experiment.name} is {experiment.status}; only a draft can start"
            )
        cells = len(experiment.dataset) * len(experiment.variants) * experiment.repeats
        if queue:
            check_queue_depth(session, settings, adding=cells)
        # Row by row, so every variant advances together and a cancel leaves them even.
        for row in range(len(experiment.dataset)):
            for repeat in range(experiment.repeats):
                for variant in experiment.variants:
                    run = run_lifecycle.create(
                        session,
                        workflow_name=_workflow_name(session, experiment),
                        workflow_id=experiment.workflow_id,
                        workflow_version_id=variant.workflow_version_id,
                        inputs=experiment.dataset[row]["inputs"],
                        trigger=TRIGGER,
                        experiment_id=experiment.id,
                    )
                    experiments.add_cell(
                        session,
                        experiment,
                        variant_id=variant.id,
                        item_index=row,
                        repeat=repeat,
                        run_id=run.id,
                    )
                    run_ids.append(run.id)
        experiments.set_status(session, experiment, "running")
        experiment.started_at = utcnow()
    if queue:
        for index, run_id in enumerate(run_ids):
            try:
                enqueue(settings, run_id)
            except QueueUnavailableError:
                _fail_unqueued(session_factory, run_ids[index:])
                raise
    return run_ids


def _workflow_name(session: Session, experiment: Experiment) -> str:
    workflow = (
        workflows.get(session, experiment.workflow_id, include_deleted=True)
        if experiment.workflow_id
        else None
    )
    return workflow.name if workflow else experiment.name


def _fail_unqueued(session_factory: sessionmaker[Session], run_ids: list[str]) -> None:
    with session_scope(session_factory) as session:
        for run_id in run_ids:
            run = runs.require(session, run_id)
            if run.state == RunState.QUEUED:
                run_lifecycle.finish(
                    session,
                    run,
                    state=RunState.FAILED,
                    error_type="QueueUnavailable",
                    error_message="the queue could not be reached when the experiment started",
                )


def cancel_experiment(session_factory: sessionmaker[Session], experiment_id: int) -> int:
    """Cancel every cell not finished yet (queued runs at once, running ones after their
    current step); the experiment is cancelled. Returns how many runs were asked to stop."""
    asked = 0
    with session_scope(session_factory) as session:
        experiment = experiments.get(session, experiment_id)
        if experiment.status not in ("draft", "running"):
            raise ExperimentStateError(f"experiment {experiment.name} is {experiment.status}")
        for cell in experiments.cells(session, experiment_id, states=[experiments.PENDING]):
            run = session.get(Run, cell.run_id) if cell.run_id else None
            if run is not None and run.state not in RunState.FINISHED:
                run_lifecycle.request_cancel(session, run)
                asked += 1
            cell.state, cell.finished_at = experiments.CANCELLED, utcnow()
        experiments.set_status(session, experiment, "cancelled")
        experiment.finished_at = utcnow()
    return asked
