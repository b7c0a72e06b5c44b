"""Running an experiment in this process (``experiment run --local``): the same cells,
runs and scoring as through the queue, executed one after another here."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.engine.runner import open_engine
from configurable_agents.experiments.cells import after_run
from configurable_agents.experiments.launch import start_experiment
from configurable_agents.experiments.tracking import send_in_background
from configurable_agents.settings import Settings
from configurable_agents.storage.repositories import experiments


def run_local(
    settings: Settings,
    session_factory: sessionmaker[Session],
    experiment_id: int,
    *,
    on_cell: Callable[[str], None] | None = None,
) -> None:
    """Start the experiment without the queue and execute every cell here, scoring each
    as it finishes; ``on_cell`` is told each finished run id (the progress bar)."""
    run_ids = start_experiment(settings, session_factory, experiment_id, queue=False)
    with open_engine(settings, session_factory) as engine:
        for run_id in run_ids:
            with session_factory() as session:
                if experiments.get(session, experiment_id).status != "running":
                    break  # cancelled from elsewhere (the dashboard)
            engine.execute(run_id)
            after_run(settings, session_factory, run_id, on_finished=send_in_background)
            if on_cell is not None:
                on_cell(run_id)
