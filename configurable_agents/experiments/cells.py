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
from functools import lru_cache
from typing import Any

from sqlalchemy import select, update
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
    with session_factory() as session:
        experiment_id = session.scalar(select(Run.experiment_id).where(Run.id == run_id))
    if experiment_id is None:
        return False
    scored = score_cell(settings, session_factory, run_id)
    finish_if_done(settings, session_factory, experiment_id, on_finished=on_finished)
    return scored


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
    worker that died before scoring it (workers call this every few seconds)."""
    with session_factory() as session:
        running = list(session.scalars(select(Experiment.id).where(Experiment.status == "running")))
    return sum(
        reconcile(settings, session_factory, experiment_id, on_finished=on_finished)
        for experiment_id in running
    )


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
    with session_factory() as session:
        cell = experiments.cell_of_run(session, run_id)
        run = session.get(Run, run_id)
        if cell is None or run is None or cell.state != experiments.PENDING:
            return False
        if run.state not in RunState.FINISHED:
            return False
        experiment = session.get(Experiment, cell.experiment_id)
        experiment_id = cell.experiment_id
        variant = session.get(ExperimentVariant, cell.variant_id)
        assert experiment is not None and variant is not None
        definition = definition_of(experiment)
        config = variant_config(str(variant.config_yaml))
        row = experiment.dataset[cell.item_index]
        latency = (
            (run.finished_at - run.started_at).total_seconds() * 1000
            if run.finished_at and run.started_at
            else 0.0
        )
        facts = Cell(
            row=row,
            outputs=run.outputs,
            steps=[_step_record(step) for step in steps.list_for_run(session, run_id)],
            latency_ms=latency,
            cost=float(run.total_cost),
            completed=run.state == RunState.COMPLETED,
        )
        state = {
            RunState.COMPLETED: experiments.SCORED,
            RunState.FAILED: experiments.FAILED,
        }.get(run.state, experiments.CANCELLED)
        cell_id = cell.id
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
        if changed == 1 and judge_cost:
            session.execute(
                update(Experiment)
                .where(Experiment.id == experiment_id)
                .values(judge_cost=Experiment.judge_cost + judge_cost)
                .execution_options(synchronize_session=False)
            )
    return changed == 1


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
