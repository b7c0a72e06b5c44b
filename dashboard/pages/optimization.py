"""Optimization: experiments comparing workflow variants over a dataset, their live
progress, the comparison table and chart, and two variants' outputs row by row. Each
context function serves a page and its /api/v1 JSON twin."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.experiments.progress import progress as experiment_progress
from configurable_agents.experiments.report import report as experiment_report
from configurable_agents.experiments.row_comparison import row_outputs
from configurable_agents.experiments.statistics import BETTER
from configurable_agents.experiments.stored_datasets import list_datasets
from configurable_agents.storage.models import Experiment
from configurable_agents.storage.repositories import experiments, workflows
from dashboard import queries
from dashboard.charts import scatter_chart
from dashboard.deps import DB, hx_target
from dashboard.errors import InvalidQueryError
from dashboard.experiment_form import FORM_SCORERS, SCORER_LABELS, VARIANT_SLOTS, FormValues
from dashboard.render import format_cost, page, partial
from dashboard.schemas import (
    DatasetOut,
    ExperimentOut,
    ProgressOut,
    ReportOut,
    RowsOut,
)
from dashboard.workflow_service import diff_versions

router = APIRouter()

EXAMPLE_DEFINITION = """\
name: shorter-prompt
workflow: summarize
repeats: 2
variants:
  - name: baseline
  - name: terse
    nodes: {summarize: {prompt: "One line: {text}"}}
scorers:
  - {kind: contains, field: summary}
  - {kind: length, field: summary, max: 200}
"""


# --- the list and the form -----------------------------------------------------------------


def form_context(
    session: Session,
    values: FormValues | None = None,
    *,
    issues: list[Any] | None = None,
    dataset_problems: list[Any] | None = None,
    dataset_file: str = "",
    error: str = "",
) -> dict[str, Any]:
    """The "New experiment" form: what it offers, and what was sent with its problems."""
    return {
        "form": values or FormValues(text={"repeats": "1", "variant0_name": "baseline"}),
        "workflow_choices": queries.workflow_choices(session),
        "variant_slots": range(VARIANT_SLOTS),
        "form_scorers": list(FORM_SCORERS),
        "scorer_labels": SCORER_LABELS,
        "issues": issues or [],
        "dataset_problems": dataset_problems or [],
        "dataset_file": dataset_file,
        "form_error": error,
        "example_definition": EXAMPLE_DEFINITION,
    }


def experiments_context(session: Session) -> dict[str, Any]:
    """Every experiment with its progress, the stored datasets, and the form."""
    found = list(experiments.list_experiments(session, limit=200))
    names = dict(queries.workflow_choices(session, limit=1000))
    progress = experiment_progress(session, [e.id for e in found]) if found else {}
    return {
        "experiments": found,
        "workflow_names": names,
        "progress": progress,
        "datasets": list_datasets(session),
        **form_context(session),
    }


def experiment_out(experiment: Experiment, progress: Any = None) -> ExperimentOut:
    """An experiment as the API answers it (with its progress when given)."""
    return ExperimentOut(
        id=experiment.id,
        name=experiment.name,
        workflow_id=experiment.workflow_id,
        description=experiment.description,
        status=experiment.status,
        rows=len(experiment.dataset),
        repeats=experiment.repeats,
        baseline=experiment.baseline,
        variants=[variant.name for variant in experiment.variants],
        dataset_id=experiment.dataset_id,
        created_at=experiment.created_at,
        started_at=experiment.started_at,
        finished_at=experiment.finished_at,
        progress=progress_out(progress) if progress is not None else None,
    )


def progress_out(progress: Any) -> ProgressOut:
    """Cells done per variant (ExperimentProgress) as the API answers it."""
    return ProgressOut.model_validate(progress.to_dict())


# --- one experiment: progress, comparison, chart -------------------------------------------


def winner_of(report: Any) -> str | None:
    """The variant to promote: the one declared better than the baseline on the most
    scorers (ties: the higher mean on the first scorer); None when none is better."""
    wins: dict[str, int] = {}
    for comparison in report.comparisons:
        if comparison.verdict == BETTER:
            wins[comparison.variant] = wins.get(comparison.variant, 0) + 1
    if not wins:
        return None
    first = report.scorers[0] if report.scorers else None

    def mean(name: str) -> float:
        stats = next((v for v in report.variants if v.name == name), None)
        interval = stats.scorers.get(first) if stats and first else None
        return interval.mean if interval else 0.0

    return max(wins, key=lambda name: (wins[name], mean(name)))


def score_cost_chart(report: Any) -> Any:
    """Each variant's mean on the first scorer (with its interval) against its cost per row."""
    if not report.scorers:
        return scatter_chart([], title="Score against cost", x_label="", y_label="")
    scorer = report.scorers[0]
    points, errors = [], {}
    for stats in report.variants:
        interval = stats.scorers.get(scorer)
        if interval is None:
            continue
        points.append((stats.name, stats.cost_per_row or 0.0, interval.mean))
        errors[stats.name] = (interval.low, interval.high)
    return scatter_chart(
        points,
        title=f"{scorer} against cost per row, per variant",
        x_label="cost per row (USD)",
        y_label=scorer,
        x_fmt=format_cost,
        errors=errors,
    )


def experiment_context(session: Session, experiment_id: int) -> dict[str, Any]:
    """One experiment: its progress, the comparison table, the chart, the winner."""
    experiment = experiments.get(session, experiment_id)
    report = experiment_report(session, experiment_id)
    workflow = workflows.get(session, experiment.workflow_id) if experiment.workflow_id else None
    progress = experiment_progress(session, [experiment_id]).get(experiment_id)
    names = [variant.name for variant in experiment.variants]
    comparisons = {(c.variant, c.scorer): c for c in report.comparisons}
    return {
        "experiment": experiment,
        "workflow": workflow,
        "report": report,
        "progress": progress,
        "comparisons": comparisons,
        "winner": winner_of(report),
        "chart": score_cost_chart(report),
        "variant_names": names,
        "finished": experiment.status not in ("draft", "running"),
        # Only a completed experiment's variants can become a workflow version.
        "promotable": experiment.status == "completed" and experiment.workflow_id is not None,
        "live": experiment.status == "running",
    }


def report_out(context: dict[str, Any]) -> ReportOut:
    """The comparison as the API answers it."""
    report = context["report"]
    return ReportOut.model_validate(
        {
            "experiment": experiment_out(context["experiment"], context["progress"]),
            "baseline": report.baseline,
            "scorers": list(report.scorers),
            "variants": [stats.to_dict() for stats in report.variants],
            "comparisons": [comparison.to_dict() for comparison in report.comparisons],
            "judge_cost": report.judge_cost,
            "gates": [gate.to_dict() for gate in report.gates],
            "winner": context["winner"],
        }
    )


# --- two variants row by row ---------------------------------------------------------------


def output_text(cells: list[Any]) -> str:
    """The first repeat's outputs as text, one ``field: value`` line each (for the diff)."""
    for cell in cells:
        if cell.outputs:
            return "\n".join(f"{key}: {value}" for key, value in sorted(cell.outputs.items()))
    return ""


def rows_context(session: Session, experiment_id: int, a: str = "", b: str = "") -> dict[str, Any]:
    """Two variants' outputs on every row side by side, with the line diff of each row."""
    experiment = experiments.get(session, experiment_id)
    names = [variant.name for variant in experiment.variants]
    a = a or experiment.baseline or names[0]
    b = b or next((name for name in names if name != a), a)
    for param, name in (("a", a), ("b", b)):
        if name not in names:
            raise InvalidQueryError(
                param, f"{param} must be a variant of this experiment ({', '.join(names)})"
            )
    pairs = row_outputs(session, experiment_id, a, b)
    return {
        "experiment": experiment,
        "variant_names": names,
        "a": a,
        "b": b,
        "pairs": pairs,
        "diffs": {
            pair.row: diff_versions(output_text(pair.a), output_text(pair.b)) for pair in pairs
        },
    }


def rows_out(context: dict[str, Any]) -> RowsOut:
    """Two variants row by row as the API answers it."""
    return RowsOut.model_validate(
        {
            "a": context["a"],
            "b": context["b"],
            "rows": [
                {
                    "row": pair.row,
                    "inputs": pair.inputs,
                    "expected": pair.expected,
                    "a": [asdict(cell) for cell in pair.a],
                    "b": [asdict(cell) for cell in pair.b],
                }
                for pair in context["pairs"]
            ],
        }
    )


def dataset_out(info: Any) -> DatasetOut:
    """A stored dataset version (DatasetInfo) as the API answers it."""
    return DatasetOut.model_validate(info, from_attributes=True)


# --- pages and their twins -----------------------------------------------------------------


@router.get("/optimization", response_class=HTMLResponse, include_in_schema=False)
def experiments_page(request: Request, session: DB) -> HTMLResponse:
    return page(request, "optimization/list.html", experiments_context(session))


@router.get("/optimization/{experiment_id}", response_class=HTMLResponse, include_in_schema=False)
def experiment_page(request: Request, session: DB, experiment_id: int) -> HTMLResponse:
    context = experiment_context(session, experiment_id)
    if hx_target(request) == "experiment-body":
        return partial(request, "partials/_experiment_body.html", context)
    return page(request, "optimization/detail.html", context)


@router.get(
    "/optimization/{experiment_id}/rows", response_class=HTMLResponse, include_in_schema=False
)
def rows_page(
    request: Request, session: DB, experiment_id: int, a: str = "", b: str = ""
) -> HTMLResponse:
    return page(request, "optimization/rows.html", rows_context(session, experiment_id, a, b))


@router.get("/api/v1/experiments", response_model=list[ExperimentOut], tags=["experiments"])
def list_experiments(session: DB) -> Any:
    """Every experiment, newest first, with its progress."""
    context = experiments_context(session)
    return [experiment_out(e, context["progress"].get(e.id)) for e in context["experiments"]]


@router.get(
    "/api/v1/experiments/{experiment_id}", response_model=ExperimentOut, tags=["experiments"]
)
def get_experiment(session: DB, experiment_id: int) -> Any:
    """One experiment with its progress (cells done / total per variant)."""
    context = experiment_context(session, experiment_id)
    return experiment_out(context["experiment"], context["progress"])


@router.get(
    "/api/v1/experiments/{experiment_id}/progress", response_model=ProgressOut, tags=["experiments"]
)
def get_progress(session: DB, experiment_id: int) -> Any:
    """Cells done out of all cells, per variant."""
    experiments.get(session, experiment_id)
    return progress_out(experiment_progress(session, [experiment_id])[experiment_id])


@router.get(
    "/api/v1/experiments/{experiment_id}/results", response_model=ReportOut, tags=["experiments"]
)
def get_results(session: DB, experiment_id: int) -> Any:
    """The comparison: per variant each scorer's mean with its 95% interval, pass rate,
    latency, cost (the judges' apart), each variant against the baseline, the gates."""
    return report_out(experiment_context(session, experiment_id))


@router.get(
    "/api/v1/experiments/{experiment_id}/rows", response_model=RowsOut, tags=["experiments"]
)
def get_rows(session: DB, experiment_id: int, a: str = "", b: str = "") -> Any:
    """Two variants' outputs on every row (default: the baseline and the next variant)."""
    return rows_out(rows_context(session, experiment_id, a, b))


@router.get("/api/v1/datasets", response_model=list[DatasetOut], tags=["experiments"])
def get_datasets(session: DB) -> Any:
    """Every stored dataset's latest version."""
    return [dataset_out(info) for info in list_datasets(session)]
