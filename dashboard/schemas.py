"""Pydantic models of the JSON API (/api/v1): what goes in, what comes out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

MAX_CONFIG_CHARS = 200_000


class FieldError(BaseModel):
    """One invalid field: ``loc`` is its path (``["body", "inputs", "text"]``); ``line`` and
    ``column`` place a config problem in its YAML, ``row`` a dataset problem in its file."""

    loc: list[str | int]
    msg: str
    type: str
    line: int | None = None
    column: int | None = None
    row: int | None = None  # a dataset's bad row (1 = the first data row)


class ErrorOut(BaseModel):
    """Every error the API answers: ``detail`` is a message saying what is wrong, or for
    invalid fields (422) the list of them, each with its path."""

    detail: str | list[FieldError]


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such workflow, version or run"},
    422: {"model": ErrorOut, "description": "Invalid fields, each with its path"},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Name taken or state does not allow it"}
}


# --- workflows -----------------------------------------------------------------------------


class ConfigIn(BaseModel):
    """A workflow config as YAML text."""

    config_yaml: str = Field(min_length=1, max_length=MAX_CONFIG_CHARS)


class WorkflowIn(ConfigIn):
    """A new workflow, or a new version of one (``note`` says what changed)."""

    note: str = Field(default="", max_length=2000)


class WorkflowCopyIn(BaseModel):
    """A copy's name (default: ``<name>-copy``)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)


class IssueOut(BaseModel):
    message: str
    line: int | None = None
    column: int | None = None
    path: str = ""


class EstimateOut(BaseModel):
    """A rough cost range for one run, in USD."""

    low: float
    high: float
    llm_calls_low: int
    llm_calls_high: int
    note: str


class ValidationOut(BaseModel):
    valid: bool
    name: str | None
    issues: list[IssueOut]
    estimate: EstimateOut


class InputFieldOut(BaseModel):
    name: str
    type: str
    required: bool
    default: Any = None
    description: str = ""
    choices: list[str] = Field(default_factory=list)


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    note: str
    created_at: datetime


class VersionTextOut(VersionOut):
    config_yaml: str


class WorkflowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    source: str
    latest_version: int
    created_at: datetime
    updated_at: datetime


class ScheduleTickOut(BaseModel):
    """One tick of one of the workflow's schedules and what came of it: ``started`` (the
    run), ``skipped`` (missed and not caught up: why) or ``refused`` (the reason)."""

    schedule: str
    tick_at: datetime
    outcome: Literal["started", "skipped", "refused"]
    detail: str
    run_id: str | None
    recorded_at: datetime


class WorkflowDetailOut(WorkflowOut):
    config_yaml: str
    inputs: list[InputFieldOut]
    versions: list[VersionOut]
    # The latest schedule ticks, newest first.
    schedule_ticks: list[ScheduleTickOut] = []


class DeletedOut(BaseModel):
    deleted: bool
    runs_kept: int


class DiffLineOut(BaseModel):
    kind: str
    text: str
    old: int | None = None
    new: int | None = None


# --- runs ----------------------------------------------------------------------------------


class RunIn(BaseModel):
    """Inputs by name (typed as the workflow declares them), optionally a version, and how
    to answer: ``async`` (the run at once), ``sync`` (wait for its outputs, up to
    API_SYNC_WAIT_SECONDS) or ``stream`` (its events as server-sent events)."""

    inputs: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1)
    mode: Literal["async", "sync", "stream"] = "async"


class TrackingOut(BaseModel):
    """Where the run's MLflow record stands: ``sent``, ``pending`` (with the reason the last
    attempt failed and when the next one is due), ``failed`` (MLflow refused it: the
    reason), or ``off`` (TRACKING_ENABLED=false)."""

    model_config = ConfigDict(from_attributes=True)

    state: Literal["sent", "pending", "failed", "off"]
    reason: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    mlflow_run_id: str | None = None


class RunEventOut(BaseModel):
    """One entry of a run's timeline: claimed again, taken over, enqueued again by the
    reconciler (and why), an enqueue that failed."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str
    detail: str
    epoch: int | None = None


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    workflow_id: int | None
    workflow_name: str
    state: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error_type: str | None
    error_message: str | None
    trigger: str
    attempts: int
    # The claim epoch: every claim of the run takes a new one.
    epoch: int = 0
    worker_id: str | None
    cancel_requested: bool
    total_tokens: int
    total_cost: float
    mlflow_run_id: str | None
    tracking_status: str | None
    # Only on /api/v1/runs/{id}: the record's delivery to MLflow.
    tracking: TrackingOut | None = None
    # Only on /api/v1/runs/{id}: the run's timeline (see /api/v1/runs/{id}/timeline).
    timeline: list[RunEventOut] = []
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    experiment_id: int | None = None  # set on the cells of an experiment


class RunUrls(BaseModel):
    """Where to follow a run: its page, its JSON and its event stream."""

    page: str
    run: str
    events: str


class RunStartedOut(RunOut):
    """A run as the run API answers it: 201 (async), 200 (sync, settled) or 202 (sync,
    still going: follow ``urls.events`` or poll ``urls.run``)."""

    urls: RunUrls


class RunPageOut(BaseModel):
    """A page of runs, newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    items: list[RunOut]
    next_cursor: str | None


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    node: str
    # "<node>#<visit>", or "<node>#<visit>/tool#<n>" for a tool call under its node's step.
    step_key: str | None = None
    kind: str
    state: str
    input: dict[str, Any] | None
    rendered_prompt: str | None
    raw_output: str | None
    output: dict[str, Any] | None
    provider: str | None
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_ms: float
    attempt: int
    error_type: str | None
    error_message: str | None
    started_at: datetime
    finished_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def parent_key(self) -> str | None:
        """The step key of the node step this one is nested under (tool calls), else None."""
        key = self.step_key
        return key.split("/", 1)[0] if key and "/" in key else None


class DecisionIn(BaseModel):
    """A human decision on a run waiting for approval."""

    approved: bool
    comment: str = Field(default="", max_length=2000)


# --- agents, experiments, metrics, palette -------------------------------------------------


MAX_DATASET_CHARS = 5_000_000  # the dataset reader's own bound (experiments/datasets.py)


class ExperimentIn(BaseModel):
    """A new experiment: its definition (YAML text, or the same as JSON) and the dataset
    file's text (CSV or JSONL, by ``dataset_filename``). Started at once unless ``start``
    is false. A bad definition or dataset answers 422 with every problem (a dataset's by
    row and column) and stores nothing."""

    definition_yaml: str | None = Field(default=None, max_length=200_000)
    definition: dict[str, Any] | None = None
    dataset: str | None = Field(default=None, max_length=MAX_DATASET_CHARS)
    dataset_filename: str = Field(
        default="dataset.csv", min_length=1, max_length=200, pattern=r"^[^/\\]+$"
    )
    start: bool = True


class VariantProgressOut(BaseModel):
    name: str
    done: int
    failed: int
    total: int


class ProgressOut(BaseModel):
    """Cells done out of all cells, per variant."""

    status: str
    done: int
    total: int
    failed: int
    variants: list[VariantProgressOut]


class ExperimentOut(BaseModel):
    id: int
    name: str
    workflow_id: int | None
    description: str
    status: str
    rows: int
    repeats: int
    baseline: str | None
    variants: list[str]
    dataset_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut | None = None


class IntervalOut(BaseModel):
    """A mean with its 95% confidence interval."""

    mean: float
    low: float
    high: float


class VariantStatsOut(BaseModel):
    name: str
    rows: int
    cells: int
    failed: int
    scorers: dict[str, IntervalOut | None]
    pass_rate: float | None
    latency_mean_ms: float | None
    latency_p95_ms: float | None
    cost_total: float
    cost_per_row: float | None
    judge_cost: float


class ComparisonOut(BaseModel):
    """A variant against the baseline on one scorer, paired over the same rows: "better"
    or "worse" only when the interval of the difference excludes zero."""

    scorer: str
    variant: str
    baseline: str
    rows: int
    diff: IntervalOut | None
    verdict: str


class GateOut(BaseModel):
    gate: str
    variant: str
    figure: str
    value: float | None
    passed: bool


class ReportOut(BaseModel):
    """The comparison table: every variant's figures, each against the baseline, the gates."""

    experiment: ExperimentOut
    baseline: str | None
    scorers: list[str]
    variants: list[VariantStatsOut]
    comparisons: list[ComparisonOut]
    judge_cost: float
    gates: list[GateOut]
    winner: str | None


class CellOut(BaseModel):
    repeat: int
    run_id: str | None
    state: str
    outputs: dict[str, Any] | None
    scores: dict[str, Any]
    latency_ms: float | None
    cost: float | None


class RowPairOut(BaseModel):
    row: int
    inputs: dict[str, Any]
    expected: dict[str, Any]
    a: list[CellOut]
    b: list[CellOut]


class RowsOut(BaseModel):
    """Two variants' outputs on every row, side by side."""

    a: str
    b: str
    rows: list[RowPairOut]


class PromoteIn(BaseModel):
    variant: str = Field(min_length=1, max_length=200)


class PromotedOut(BaseModel):
    """The new workflow version the variant became."""

    workflow_id: int
    version: int
    url: str


class DatasetOut(BaseModel):
    id: int
    name: str
    version: int
    rows: int
    workflow_id: int | None
    source: str = ""  # the uploaded file's name, or the run a row came from
    created_at: datetime


class DatasetIn(BaseModel):
    """A dataset file's text (CSV or JSONL by ``filename``) checked against a workflow's
    inputs; a new version when the name exists."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")
    workflow_id: int = Field(ge=1, le=2**63 - 1)
    filename: str = Field(default="dataset.csv", min_length=1, max_length=200)
    content: str = Field(max_length=MAX_DATASET_CHARS)


class AddToDatasetIn(BaseModel):
    """The dataset a run's inputs and outputs are added to (created when new)."""

    dataset: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")


class MetricRowOut(BaseModel):
    bucket: str
    group: str
    steps: int
    tokens: int
    cost: float
    latency_ms: float


class MetricsOut(BaseModel):
    range: str
    group_by: str
    buckets: list[str]
    rows: list[MetricRowOut]


class PaletteItem(BaseModel):
    """One entry of the command palette."""

    kind: str  # page, workflow, run, action
    title: str
    subtitle: str = ""
    url: str
