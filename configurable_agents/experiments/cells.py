"""Scoring the cells whose runs finished, and finishing an experiment once none is left.

Called by the worker after each run it executes (``after_run``), by ``--local`` after each
cell, and by whoever waits for an experiment (``reconcile``, which also catches runs the
reaper failed). Scoring a cell is one conditional update (pending -> scored), so two
processes cannot both record it; finishing is claimed the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.loader import load_config
from configurable_agents.config.schema import LLMConfig, WorkflowConfig
from configurable_agents.experiments import judges
from configurable_agents.experiments.definition import Definition, ScorerSpec
from configurable_agents.experiments.scorers import (
    Cell,
    expected_value,
    output_value,
    score,
)
from configurable_agents.queue.dispatch import enqueue
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import (
    Experiment,
    ExperimentResult,
    ExperimentVariant,
    Run,
    utcnow,
)
from configurable_agents.storage.repositories import experiments, steps
from configurable_agents.storage.states import RunState

log = logging.getLogger(__name__)

# Called with the experiment id once it has finished (MLflow logging hooks in here).
FinishedHook = Callable[[Settings, sessionmaker[Session], int], None]


def after_run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: str,
    *,
    on_finished: FinishedHook | None = None,
) -> bool:
    """Score the cell of a finished run (nothing for a run outside experiments) and finish
    the experiment when it was the last; True when a cell was scored."""
    outcome = _score(settings, session_factory, run_id)
    if outcome is None:
        return False
    experiment_id, pending = outcome
    if pending == 0:
        finish_if_done(settings, session_factory, experiment_id, on_finished=on_finished)
    return True


def reconcile(
    settings: Settings,
    session_factory: sessionmaker[Session],
    experiment_id: int,
    *,
    on_finished: FinishedHook | None = None,
) -> int:
    """Score every pending cell whose run has finished; finish the experiment when none is
    left. Returns how many cells were scored."""
    with session_factory() as session:
        pending = [
            cell.run_id
            for cell in experiments.cells(session, experiment_id, states=[experiments.PENDING])
            if cell.run_id
        ]
        finished = (
            {
                run.id
                for run in session.query(Run).filter(
                    Run.id.in_(pending), Run.state.in_(RunState.FINISHED)
                )
            }
            if pending
            else set()
        )
    scored = sum(
        score_cell(settings, session_factory, run_id) for run_id in pending if run_id in finished
    )
    finish_if_done(settings, session_factory, experiment_id, on_finished=on_finished)
    return scored


def reconcile_running(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    on_finished: FinishedHook | None = None,
) -> int:
    """:func:`reconcile` every running experiment: catches a cell whose run finished on a
    worker that died before scoring it (workers call this every few seconds), and hands
    stalled cells to the queue again (:func:`requeue_stalled`)."""
    with session_factory() as session:
        running = list(session.scalars(select(Experiment.id).where(Experiment.status == "running")))
    scored = 0
    for experiment_id in running:
        scored += reconcile(settings, session_factory, experiment_id, on_finished=on_finished)
        requeue_stalled(settings, session_factory, experiment_id)
    return scored


def requeue_stalled(
    settings: Settings, session_factory: sessionmaker[Session], experiment_id: int
) -> list[str]:
    """Enqueue again the queued cell runs of an experiment that has stalled: none of its
    runs is running and no cell finished for three lease periods. A worker killed right
    after taking a run's message from the queue, before claiming it, leaves the run
    queued with no message. A second message is harmless: only one claim of a queued
    run succeeds. Returns the run ids enqueued again."""
    stall = timedelta(seconds=3 * settings.run_lease_seconds)
    with session_factory() as session:
        states = dict(
            session.execute(
                select(Run.state, func.count())
                .where(Run.experiment_id == experiment_id)
                .group_by(Run.state)
            ).all()
        )
        if not states.get(RunState.QUEUED) or states.get(RunState.RUNNING):
            return []
        experiment = session.get(Experiment, experiment_id)
        last_cell = session.scalar(
            select(func.max(ExperimentResult.finished_at)).where(
                ExperimentResult.experiment_id == experiment_id
            )
        )
        progress = max(
            [moment for moment in (last_cell, experiment and experiment.started_at) if moment]
            or [utcnow()]
        )
        if utcnow() - progress < stall:
            return []
        queued = list(
            session.scalars(
                select(Run.id).where(
                    Run.experiment_id == experiment_id, Run.state == RunState.QUEUED
                )
            )
        )
    for run_id in queued:
        enqueue(settings, run_id)
    if queued:
        log.warning(
            "experiment %s had stalled: %d queued cells enqueued again", experiment_id, len(queued)
        )
    return queued


@lru_cache(maxsize=256)
def variant_config(text: str) -> WorkflowConfig:
    """A variant's parsed config (parsing with line marks costs tens of ms; a variant's
    text never changes, and every cell of it needs it)."""
    return load_config(text, filename="<variant>")


@lru_cache(maxsize=64)
def _definition(data: str) -> Definition:
    return Definition.model_validate(json.loads(data))


def definition_of(experiment: Experiment) -> Definition:
    """The experiment's stored definition, validated once per process."""
    return _definition(json.dumps(experiment.definition, sort_keys=True))


def default_field(config: WorkflowConfig) -> str | None:
    """The field scorers judge by default: the last one a node writes."""
    for node in reversed(config.nodes):
        written = node.writes()
        if written:
            return written[0].field
    return None


def score_cell(settings: Settings, session_factory: sessionmaker[Session], run_id: str) -> bool:
    """Score one finished cell run with every per-cell scorer; False when it is not a
    pending cell, its run has not finished, or another process recorded it first."""
    return _score(settings, session_factory, run_id) is not None


def _score(
    settings: Settings, session_factory: sessionmaker[Session], run_id: str
) -> tuple[int, int] | None:
    """Score the cell; (experiment id, cells still pending) when this call recorded it."""
    with session_factory() as session:
        # One read of just the columns scoring needs: this runs once per cell, on the
        # worker, after the run itself.
        found = session.execute(
            select(
                ExperimentResult.id,
                ExperimentResult.state,
                ExperimentResult.item_index,
                ExperimentResult.experiment_id,
                Run.state,
                Run.outputs,
                Run.total_cost,
                Run.started_at,
                Run.finished_at,
                Experiment.dataset,
                Experiment.definition,
                ExperimentVariant.config_yaml,
            )
            .join(Run, Run.id == ExperimentResult.run_id)
            .join(Experiment, Experiment.id == ExperimentResult.experiment_id)
            .join(ExperimentVariant, ExperimentVariant.id == ExperimentResult.variant_id)
            .where(ExperimentResult.run_id == run_id)
        ).one_or_none()
        if found is None:
            return None
        (cell_id, cell_state, item_index, experiment_id, run_state, outputs, cost) = found[:7]
        started_at, finished_at, dataset, stored_definition, config_yaml = found[7:]
        if cell_state != experiments.PENDING or run_state not in RunState.FINISHED:
            return None
        definition = _definition(json.dumps(stored_definition, sort_keys=True))
        # Only custom scorers read the step records.
        wants_steps = any(spec.kind == "custom" for spec in definition.scorers)
        records = (
            [_step_record(step) for step in steps.list_for_run(session, run_id)]
            if wants_steps
            else []
        )
    config = variant_config(str(config_yaml))
    row = dataset[item_index]
    facts = Cell(
        row=row,
        outputs=outputs,
        steps=records,
        latency_ms=(finished_at - started_at).total_seconds() * 1000
        if finished_at and started_at
        else 0.0,
        cost=float(cost),
        completed=run_state == RunState.COMPLETED,
    )
    state = {
        RunState.COMPLETED: experiments.SCORED,
        RunState.FAILED: experiments.FAILED,
    }.get(run_state, experiments.CANCELLED)
    field = default_field(config)
    scores: dict[str, Any] = {}
    judge_cost = 0.0
    for spec in definition.scorers:
        if spec.kind == "pairwise":
            continue
        if spec.kind == "llm_judge":
            if not facts.completed:
                scores[spec.label] = 0.0
                continue
            verdict = judges.rubric_score(
                settings,
                judge_llm(spec, definition, config),
                config.pricing,
                rubric=str(spec.rubric),
                inputs=row["inputs"],
                output=output_value(spec, facts, field),
                expected=expected_value(spec, facts, field),
            )
            scores[spec.label], judge_cost = verdict.value, judge_cost + verdict.cost
            continue
        try:
            scores[spec.label] = score(spec, facts, field)
        except Exception as error:  # a custom scorer's bug must not stop the experiment
            log.warning("scorer %s failed on run %s: %s", spec.label, run_id, error)
            scores[spec.label] = None
    values = [value for value in scores.values() if value is not None]
    with session_scope(session_factory) as session:
        changed = session.execute(
            update(ExperimentResult)
            .where(ExperimentResult.id == cell_id, ExperimentResult.state == experiments.PENDING)
            .values(
                state=state,
                scores=scores,
                score=sum(values) / len(values) if values else None,
                latency_ms=facts.latency_ms,
                cost=facts.cost,
                judge_cost=judge_cost,
                finished_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            return None
        if judge_cost:
            session.execute(
                update(Experiment)
                .where(Experiment.id == experiment_id)
                .values(judge_cost=Experiment.judge_cost + judge_cost)
                .execution_options(synchronize_session=False)
            )
        pending = experiments.count_cells(session, experiment_id, states=[experiments.PENDING])
    return experiment_id, pending


def judge_llm(spec: ScorerSpec, definition: Definition, config: WorkflowConfig) -> LLMConfig:
    """The judge's LLM: the scorer's own, else the definition's judge, else the workflow's."""
    return spec.llm or definition.judge or config.llm


def finish_if_done(
    settings: Settings,
    session_factory: sessionmaker[Session],
    experiment_id: int,
    *,
    on_finished: FinishedHook | None = None,
) -> bool:
    """When no cell is pending, judge the pairs and mark the experiment completed (once,
    whichever process gets there first). True when this call finished it."""
    with session_scope(session_factory) as session:
        if experiments.count_cells(session, experiment_id, states=[experiments.PENDING]):
            return False
        claimed = session.execute(
            update(Experiment)
            .where(
                Experiment.id == experiment_id,
                Experiment.status == "running",
                Experiment.finished_at.is_(None),
            )
            .values(finished_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
    if claimed != 1:
        return False
    try:
        judge_pairs(settings, session_factory, experiment_id)
        status = "completed"
    except Exception:
        log.exception("experiment %s: the pairwise judge failed", experiment_id)
        status = "failed"
    with session_scope(session_factory) as session:
        experiment = experiments.get(session, experiment_id)
        experiments.set_status(session, experiment, status)
    if on_finished is not None:
        on_finished(settings, session_factory, experiment_id)
    return True


def judge_pairs(
    settings: Settings, session_factory: sessionmaker[Session], experiment_id: int
) -> None:
    """Every pairwise scorer: each variant's output against the baseline's on the same row
    and repeat. The variant's cell gets 1 (preferred), 0.5 (tie) or 0; the baseline's cell
    gets the mean of the complements over the variants it was compared with."""
    with session_factory() as session:
        experiment = experiments.get(session, experiment_id)
        definition = definition_of(experiment)
        specs = [spec for spec in definition.scorers if spec.kind == "pairwise"]
        if not specs:
            return
        names = {variant.id: variant.name for variant in experiment.variants}
        configs = {
            variant.name: variant_config(str(variant.config_yaml))
            for variant in experiment.variants
        }
        cells = [
            (cell.id, names[cell.variant_id], cell.item_index, cell.repeat, cell.run_id, cell.state)
            for cell in experiments.cells(session, experiment_id)
        ]
        outputs = {
            run.id: run.outputs
            for run in session.query(Run).filter(Run.id.in_([c[4] for c in cells if c[4]]))
        }
        rows = list(experiment.dataset)
    baseline = definition.baseline_name
    by_key = {
        (name, row, repeat): (cell_id, run_id, state)
        for cell_id, name, row, repeat, run_id, state in cells
    }
    updates: dict[int, dict[str, Any]] = {}
    costs: dict[int, float] = {}
    complements: dict[tuple[int, str], list[float]] = {}
    for spec in specs:
        for (name, row, repeat), (cell_id, run_id, state) in by_key.items():
            if name == baseline:
                continue
            base = by_key.get((baseline, row, repeat))
            if base is None:
                continue
            config = configs[name]
            field = default_field(config)
            facts = Cell(row=rows[row], outputs=outputs.get(run_id or ""))
            base_facts = Cell(row=rows[row], outputs=outputs.get(base[1] or ""))
            if state != experiments.SCORED or base[2] != experiments.SCORED:
                value: float | None = None
                if state == experiments.SCORED:
                    value = 1.0
                elif base[2] == experiments.SCORED:
                    value = 0.0
                verdict = judges.Verdict(value, 0.0)
            else:
                verdict = judges.pairwise(
                    settings,
                    judge_llm(spec, definition, config),
                    config.pricing,
                    rubric=str(spec.rubric),
                    inputs=rows[row]["inputs"],
                    variant_output=output_value(spec, facts, field),
                    baseline_output=output_value(spec, base_facts, field),
                    variant_first=judges.first_is_variant(definition.seed, row, repeat, name),
                )
            updates.setdefault(cell_id, {})[spec.label] = verdict.value
            costs[cell_id] = costs.get(cell_id, 0.0) + verdict.cost
            if verdict.value is not None:
                complements.setdefault((base[0], spec.label), []).append(1.0 - verdict.value)
    for (cell_id, label), values in complements.items():
        updates.setdefault(cell_id, {})[label] = sum(values) / len(values)
    with session_scope(session_factory) as session:
        total = 0.0
        for cell in experiments.cells(session, experiment_id):
            if cell.id not in updates:
                continue
            cell.scores = {**cell.scores, **updates[cell.id]}
            cell.judge_cost = cell.judge_cost + costs.get(cell.id, 0.0)
            total += costs.get(cell.id, 0.0)
        experiment = experiments.get(session, experiment_id)
        experiment.judge_cost = experiment.judge_cost + total


def _step_record(step: Any) -> dict[str, Any]:
    return {
        "node": step.node,
        "kind": step.kind,
        "state": step.state,
        "output": step.output,
        "raw_output": step.raw_output,
        "provider": step.provider,
        "model": step.model,
        "prompt_tokens": step.prompt_tokens,
        "completion_tokens": step.completion_tokens,
        "cost": step.cost,
        "latency_ms": step.latency_ms,
        "error_type": step.error_type,
    }
