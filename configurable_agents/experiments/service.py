"""What the CLI, the dashboard and the JSON API do with experiments: create one from a
definition (and a dataset), start it (one queued run per cell), cancel it, read its
progress and report, compare two variants row by row, promote a variant to a new
workflow version, and add a run to a dataset.

Creating checks everything first (workflow, versions, overrides, scorers, gates, every
dataset row) inside one transaction: on any problem nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import ConfigError, ConfigIssue
from configurable_agents.config.loader import load_config
from configurable_agents.experiments import datasets as dataset_files
from configurable_agents.experiments import gates as gate_rules
from configurable_agents.experiments.definition import Definition
from configurable_agents.experiments.errors import (
    DefinitionError,
    ExperimentStateError,
    GateError,
    PromoteError,
)
from configurable_agents.experiments.overrides import OverrideProblem, apply_overrides
from configurable_agents.experiments.scorers import check_spec
from configurable_agents.experiments.statistics import (
    CellFigures,
    Comparison,
    VariantStats,
    compare,
    variant_stats,
)
from configurable_agents.queue.dispatch import enqueue
from configurable_agents.queue.errors import QueueUnavailableError
from configurable_agents.queue.limits import check_queue_depth
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import RunNotFoundError
from configurable_agents.storage.models import Experiment, Run, Workflow, WorkflowVersion, utcnow
from configurable_agents.storage.repositories import datasets as dataset_store
from configurable_agents.storage.repositories import experiments, runs, workflows
from configurable_agents.storage.states import RunState

TRIGGER = "experiment"
_WORKFLOW_FILES = (".yaml", ".yml")


# --- creating ----------------------------------------------------------------------------


def create_experiment(
    settings: Settings,
    session_factory: sessionmaker[Session],
    definition: Definition,
    *,
    dataset: bytes | None = None,
    dataset_filename: str | None = None,
    base_dir: Path | None = None,
) -> int:
    """Store a draft experiment from a validated definition; its id.

    The dataset is ``dataset`` (bytes of an uploaded CSV/JSONL) or the definition's
    ``dataset`` path read relative to ``base_dir``. A ``workflow`` ending in .yaml is a
    workflow file (stored as a new version when it changed), else a stored workflow's name.
    Raises DefinitionError or DatasetError (nothing stored). The stored name is the
    definition's, with -2, -3 ... added when taken (a definition is run again and again).
    """
    issues = _static_issues(definition)
    if issues:
        raise DefinitionError(issues)
    data, filename = _dataset_bytes(definition, dataset, dataset_filename, base_dir)
    with session_scope(session_factory) as session:
        workflow, base = _workflow_version(session, definition, base_dir)
        base_config = load_config(base.config_yaml, filename=f"{workflow.name}.yaml")
        variants: list[tuple[str, dict[str, Any], int, str]] = []
        problems: list[ConfigIssue] = []
        for index, spec in enumerate(definition.variants):
            version = base
            if spec.version is not None:
                found = workflows.get_version(session, workflow.id, spec.version)
                if found is None:
                    problems.append(
                        definition.issue(
                            ("variants", index, "version"),
                            f"workflow {workflow.name} has no version {spec.version}",
                        )
                    )
                    continue
                version = found
            try:
                text, _ = apply_overrides(version.config_yaml, spec)
            except OverrideProblem as problem:
                path = ("variants", index, *problem.path)
                problems.append(definition.issue(path, str(problem)))
                continue
            variants.append((spec.name, spec.overrides(), version.id, text))
        if problems:
            raise DefinitionError(problems)
        rows = dataset_files.parse_dataset(data, filename=filename, config=base_config)
        stored = _store_dataset(
            session, Path(filename).stem or definition.name, rows, filename, workflow.id
        )
        experiment = experiments.create(
            session,
            name=_free_name(session, definition.name),
            variants={name: overrides for name, overrides, _, _ in variants},
            dataset=rows,
            workflow_id=workflow.id,
            description=definition.description,
            dataset_id=stored.id,
            definition=definition.to_data(),
            repeats=definition.repeats,
            baseline=definition.baseline_name,
        )
        by_name = {variant.name: variant for variant in experiment.variants}
        for name, _, version_id, text in variants:
            by_name[name].workflow_version_id, by_name[name].config_yaml = version_id, text
        session.flush()
        return experiment.id


def _static_issues(definition: Definition) -> list[ConfigIssue]:
    issues = []
    for index, spec in enumerate(definition.scorers):
        problem = check_spec(spec)
        if problem:
            issues.append(definition.issue(("scorers", index), problem))
    try:
        parsed = gate_rules.parse_gates(definition.gates)
        gate_rules.check_known(
            parsed,
            [spec.label for spec in definition.scorers],
            [variant.name for variant in definition.variants],
        )
    except GateError as error:
        issues.append(definition.issue(("gates",), str(error)))
    return issues


def _dataset_bytes(
    definition: Definition, data: bytes | None, filename: str | None, base_dir: Path | None
) -> tuple[bytes, str]:
    if data is not None:
        return data, filename or "dataset.csv"
    if not definition.dataset:
        raise DefinitionError(
            [definition.issue(("dataset",), "no dataset: name a CSV or JSONL file")]
        )
    path = (base_dir or Path.cwd()) / definition.dataset
    try:
        return path.read_bytes(), str(path)
    except OSError as error:
        raise DefinitionError(
            [definition.issue(("dataset",), f"cannot read {path}: {error.strerror or error}")]
        ) from None


def _workflow_version(
    session: Session, definition: Definition, base_dir: Path | None
) -> tuple[Workflow, WorkflowVersion]:
    name = definition.workflow
    if name.lower().endswith(_WORKFLOW_FILES):
        path = (base_dir or Path.cwd()) / name
        try:
            text = path.read_text(encoding="utf-8")
            config = load_config(text, filename=str(path))
        except OSError as error:
            raise DefinitionError(
                [definition.issue(("workflow",), f"cannot read {path}: {error.strerror or error}")]
            ) from None
        except ConfigError as error:
            raise DefinitionError(error.issues) from None
        return workflows.save(
            session,
            name=config.name,
            config_yaml=text,
            description=config.description,
            source="cli",
        )
    workflow = workflows.get_by_name(session, name)
    if workflow is None:
        raise DefinitionError(
            [
                definition.issue(
                    ("workflow",), f"no stored workflow named {name!r} (or give a .yaml file)"
                )
            ]
        )
    version = workflows.get_version(session, workflow.id, definition.version)
    if version is None:
        raise DefinitionError(
            [definition.issue(("version",), f"workflow {name} has no version {definition.version}")]
        )
    return workflow, version


def _store_dataset(
    session: Session, name: str, rows: list[Any], source: str, workflow_id: int
) -> Any:
    """The dataset version holding these rows: the latest when it has the same rows."""
    try:
        latest = dataset_store.get(session, name)
        if latest.rows == rows:
            return latest
    except LookupError:
        pass
    return dataset_store.add_version(
        session, name=name, rows=rows, source=Path(source).name, workflow_id=workflow_id
    )


def _free_name(session: Session, name: str) -> str:
    candidate, number = name, 1
    while experiments.get_by_name(session, candidate) is not None:
        number += 1
        candidate = f"{name}-{number}"
    return candidate


# --- running -----------------------------------------------------------------------------


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


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantProgress:
    """Cells of one variant: finished (scored or failed or cancelled) of the total."""

    name: str
    done: int
    failed: int
    total: int


@dataclass(frozen=True)
class ExperimentProgress:
    """Cells done of the total, overall and per variant."""

    experiment_id: int
    status: str
    done: int
    failed: int
    total: int
    variants: list[VariantProgress]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "status": self.status,
            "done": self.done,
            "failed": self.failed,
            "total": self.total,
            "variants": [vars(variant) for variant in self.variants],
        }


def progress(
    session: Session, experiment_ids: list[int] | None = None
) -> dict[int, ExperimentProgress]:
    """The progress of the given experiments (every running one when None): two small
    grouped reads, cheap enough for the status tick."""
    query = session.query(Experiment)
    query = (
        query.filter(Experiment.id.in_(experiment_ids))
        if experiment_ids is not None
        else query.filter(Experiment.status == "running")
    )
    found = query.all()
    counts = experiments.cell_counts(session, [experiment.id for experiment in found])
    result = {}
    for experiment in found:
        total_per_variant = len(experiment.dataset) * experiment.repeats
        lines = []
        for variant in experiment.variants:
            states = counts.get(experiment.id, {}).get(variant.id, {})
            failed = states.get(experiments.FAILED, 0) + states.get(experiments.CANCELLED, 0)
            done = states.get(experiments.SCORED, 0) + failed
            lines.append(VariantProgress(variant.name, done, failed, total_per_variant))
        result[experiment.id] = ExperimentProgress(
            experiment.id,
            experiment.status,
            sum(line.done for line in lines),
            sum(line.failed for line in lines),
            total_per_variant * len(lines),
            lines,
        )
    return result


@dataclass
class ExperimentReport:
    """Everything the comparison table shows."""

    experiment_id: int
    name: str
    status: str
    workflow_id: int | None
    baseline: str
    repeats: int
    rows: int
    scorers: list[str]
    variants: list[VariantStats]
    comparisons: list[Comparison]
    judge_cost: float
    gates: list[gate_rules.GateResult] = field(default_factory=list)
    created_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def gates_passed(self) -> bool:
        return all(result.passed for result in self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.experiment_id,
            "name": self.name,
            "status": self.status,
            "workflow_id": self.workflow_id,
            "baseline": self.baseline,
            "repeats": self.repeats,
            "rows": self.rows,
            "scorers": self.scorers,
            "variants": [stats.to_dict() for stats in self.variants],
            "comparisons": [comparison.to_dict() for comparison in self.comparisons],
            "judge_cost": self.judge_cost,
            "gates": [result.to_dict() for result in self.gates],
            "gates_passed": self.gates_passed,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def cell_figures(session: Session, experiment: Experiment) -> dict[str, list[CellFigures]]:
    """The finished cells of each variant (by name, in variant order)."""
    names = {variant.id: variant.name for variant in experiment.variants}
    by_variant: dict[str, list[CellFigures]] = {name: [] for name in names.values()}
    for cell in experiments.cells(session, experiment.id):
        if cell.state == experiments.PENDING or cell.state == experiments.CANCELLED:
            continue
        by_variant[names[cell.variant_id]].append(
            CellFigures(
                row=cell.item_index,
                repeat=cell.repeat,
                scores=cell.scores,
                latency_ms=cell.latency_ms,
                cost=cell.cost,
                judge_cost=cell.judge_cost,
                completed=cell.state == experiments.SCORED,
            )
        )
    return by_variant


def report(
    session: Session, experiment_id: int, *, extra_gates: list[str] | None = None
) -> ExperimentReport:
    """The statistics of every variant, each variant compared with the baseline on every
    scorer, and the gates (the definition's plus ``extra_gates``; GateError when malformed)."""
    experiment = experiments.get(session, experiment_id)
    definition = Definition.model_validate(experiment.definition) if experiment.definition else None
    scorers = [spec.label for spec in definition.scorers] if definition else []
    pairwise = (
        [spec.label for spec in definition.scorers if spec.kind == "pairwise"] if definition else []
    )
    seed = definition.seed if definition else 0
    figures = cell_figures(session, experiment)
    stats = [
        variant_stats(name, cells, scorers, seed=seed, pairwise=pairwise)
        for name, cells in figures.items()
    ]
    baseline = experiment.baseline or (experiment.variants[0].name if experiment.variants else "")
    comparisons = [
        compare(name, cells, baseline, figures.get(baseline, []), scorer, seed=seed)
        for name, cells in figures.items()
        if name != baseline
        for scorer in scorers
    ]
    parsed = gate_rules.parse_gates(
        [*(definition.gates if definition else []), *(extra_gates or [])]
    )
    gate_rules.check_known(parsed, scorers, list(figures))
    return ExperimentReport(
        experiment_id=experiment.id,
        name=experiment.name,
        status=experiment.status,
        workflow_id=experiment.workflow_id,
        baseline=baseline,
        repeats=experiment.repeats,
        rows=len(experiment.dataset),
        scorers=scorers,
        variants=stats,
        comparisons=comparisons,
        judge_cost=experiment.judge_cost,
        gates=gate_rules.evaluate(parsed, stats),
        created_at=experiment.created_at,
        finished_at=experiment.finished_at,
    )


@dataclass(frozen=True)
class CellView:
    """One cell as the per-row view shows it."""

    repeat: int
    run_id: str | None
    state: str
    outputs: dict[str, Any] | None
    scores: dict[str, Any]
    latency_ms: float
    cost: float


@dataclass(frozen=True)
class RowPair:
    """One dataset row with the cells of two variants side by side."""

    row: int
    inputs: dict[str, Any]
    expected: dict[str, Any]
    a: list[CellView]
    b: list[CellView]


def row_outputs(
    session: Session, experiment_id: int, variant_a: str, variant_b: str
) -> list[RowPair]:
    """Each row's inputs, expected values and the two variants' cells (VariantNotFoundError
    for an unknown variant)."""
    experiment = experiments.get(session, experiment_id)
    ids: dict[int, list[str]] = {}
    ids.setdefault(experiments.variant(session, experiment, variant_a).id, []).append("a")
    ids.setdefault(experiments.variant(session, experiment, variant_b).id, []).append("b")
    cells = experiments.cells(session, experiment_id)
    run_ids = [cell.run_id for cell in cells if cell.run_id and cell.variant_id in ids]
    outputs = (
        {run.id: run.outputs for run in session.query(Run).filter(Run.id.in_(run_ids))}
        if run_ids
        else {}
    )
    sides: dict[tuple[int, str], list[CellView]] = {}
    for cell in cells:
        for side in ids.get(cell.variant_id, []):
            sides.setdefault((cell.item_index, side), []).append(
                CellView(
                    cell.repeat,
                    cell.run_id,
                    cell.state,
                    outputs.get(cell.run_id or ""),
                    dict(cell.scores),
                    cell.latency_ms,
                    cell.cost,
                )
            )
    return [
        RowPair(
            index,
            dict(row.get("inputs", {})),
            dict(row.get("expected", {})),
            sides.get((index, "a"), []),
            sides.get((index, "b"), []),
        )
        for index, row in enumerate(experiment.dataset)
    ]


# --- after ---------------------------------------------------------------------------------


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
