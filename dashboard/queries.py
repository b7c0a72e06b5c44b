"""Read queries the dashboard needs beyond what the repositories offer.

The only module of the dashboard that writes SQL: pages, the live tick and the command
modules call these. Every function takes a Session and returns rows or plain data; none
writes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import WorkflowVersionNotFoundError
from configurable_agents.storage.models import (
    Experiment,
    Run,
    RunStep,
    Workflow,
    WorkflowVersion,
)
from configurable_agents.storage.repositories import agents, workflows
from configurable_agents.storage.repositories.steps import AWAITING_APPROVAL
from configurable_agents.storage.states import RunState
from dashboard.live.snapshot import AgentLine


class BadCursor(ValueError):
    """The pagination cursor is not one this dashboard made."""


# --- runs list: filters and keyset pagination ----------------------------------------------


@dataclass(frozen=True)
class RunFilters:
    """What the runs list is narrowed to."""

    workflow_id: int | None = None
    state: str | None = None
    since: date | None = None  # first day included
    until: date | None = None  # last day included
    # The cells of one experiment; without it, runs of experiments are left out of the list.
    experiment_id: int | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The filters' days as UTC datetimes [since, until + 1 day)."""
        start = datetime.combine(self.since, time(), tzinfo=UTC) if self.since else None
        end = (
            datetime.combine(self.until + timedelta(days=1), time(), tzinfo=UTC)
            if self.until
            else None
        )
        return start, end

    def query_args(self) -> dict[str, str]:
        """The filters as URL query parameters (for next-page links)."""
        args = {}
        if self.workflow_id is not None:
            args["workflow"] = str(self.workflow_id)
        if self.state:
            args["state"] = self.state
        if self.since:
            args["since"] = self.since.isoformat()
        if self.until:
            args["until"] = self.until.isoformat()
        if self.experiment_id is not None:
            args["experiment"] = str(self.experiment_id)
        return args


@dataclass
class RunsPage:
    """One page of the runs list and the cursor of the next one."""

    runs: Sequence[Run]
    next_cursor: str | None


def encode_cursor(run: Run) -> str:
    """An opaque cursor pointing just after this run (newest first)."""
    raw = f"{run.created_at.astimezone(UTC).isoformat()}|{run.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor points after; BadCursor when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, run_id = raw.split("|", 1)
        moment = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise BadCursor("the page cursor is not valid; start again from the first page") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, run_id


def runs_page(
    session: Session, filters: RunFilters, *, cursor: str | None = None, limit: int = 50
) -> RunsPage:
    """A page of runs, newest first; as fast deep in the list as on the first page.

    The cursor condition is written so the database can start an index range scan at the
    cursor (``created_at <= t AND (created_at < t OR id < i)``): the plain
    ``created_at < t OR (created_at = t AND id < i)`` form makes SQLite walk every newer
    entry of the index first, which grows with the depth of the page.
    """
    query = select(Run)
    # An experiment's cells are runs too, hundreds at a time: listed only when asked for.
    if filters.experiment_id is None:
        query = query.where(Run.experiment_id.is_(None))
    else:
        query = query.where(Run.experiment_id == filters.experiment_id)
    if filters.workflow_id is not None:
        query = query.where(Run.workflow_id == filters.workflow_id)
    if filters.state:
        query = query.where(Run.state == filters.state)
    since, until = filters.bounds()
    if since is not None:
        query = query.where(Run.created_at >= since)
    if until is not None:
        query = query.where(Run.created_at < until)
    if cursor:
        created_at, run_id = decode_cursor(cursor)
        query = query.where(
            Run.created_at <= created_at, or_(Run.created_at < created_at, Run.id < run_id)
        )
    rows = session.scalars(
        query.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return RunsPage(runs=rows, next_cursor=encode_cursor(rows[-1]) if more and rows else None)


def workflow_choices(session: Session, limit: int = 500) -> list[tuple[int, str]]:
    """(id, name) of live workflows, for filter menus."""
    rows = session.execute(
        select(Workflow.id, Workflow.name)
        .where(Workflow.deleted_at.is_(None))
        .order_by(Workflow.name)
        .limit(limit)
    )
    return [(row.id, row.name) for row in rows]


# --- home ----------------------------------------------------------------------------------


def start_of_today(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return datetime.combine(now.date(), time(), tzinfo=UTC)


def cost_since(session: Session, since: datetime) -> float:
    """What the runs created since then cost together."""
    total = session.scalar(
        select(func.coalesce(func.sum(Run.total_cost), 0.0)).where(Run.created_at >= since)
    )
    return float(total or 0.0)


def has_any_run(session: Session) -> bool:
    return session.scalar(select(Run.id).limit(1)) is not None


def runs_in_states(session: Session, states: Sequence[str], limit: int = 20) -> Sequence[Run]:
    """Runs in the given states, newest first."""
    return session.scalars(
        select(Run)
        .where(Run.state.in_(states))
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(limit)
    ).all()


def oldest_queued(session: Session) -> datetime | None:
    """When the oldest run still waiting in the queue was created."""
    return session.scalar(
        select(Run.created_at).where(Run.state == RunState.QUEUED).order_by(Run.created_at).limit(1)
    )


def running_per_worker(session: Session) -> dict[str, int]:
    """How many runs each worker is executing now."""
    rows = session.execute(
        select(Run.worker_id, func.count())
        .where(Run.state == RunState.RUNNING)
        .group_by(Run.worker_id)
    )
    return {(worker or "unassigned"): number for worker, number in rows}


def running_run_ids_by_worker(session: Session, limit: int = 500) -> dict[str, list[str]]:
    """The ids of the runs each worker is executing now."""
    rows = session.execute(
        select(Run.worker_id, Run.id).where(Run.state == RunState.RUNNING).limit(limit)
    )
    found: dict[str, list[str]] = {}
    for worker, run_id in rows:
        found.setdefault(worker or "unassigned", []).append(run_id)
    return found


def workflow_run_counts(
    session: Session, workflow_ids: Sequence[int], *, include_experiments: bool = False
) -> dict[int, int]:
    """How many runs each workflow has (the cells of experiments only when asked for, as
    the lists leave them out)."""
    if not workflow_ids:
        return {}
    query = select(Run.workflow_id, func.count()).where(Run.workflow_id.in_(list(workflow_ids)))
    if not include_experiments:
        query = query.where(Run.experiment_id.is_(None))
    rows = session.execute(query.group_by(Run.workflow_id))
    return {workflow_id: number for workflow_id, number in rows}


def stored_version(
    session: Session, workflow_id: int, version: int | None = None
) -> WorkflowVersion:
    """A live workflow's version by number, or its latest; the NotFound errors otherwise."""
    workflows.require(session, workflow_id)
    if version is not None:
        return workflows.require_version(session, workflow_id, version)
    latest = workflows.get_version(session, workflow_id)
    if latest is None:
        raise WorkflowVersionNotFoundError(f"workflow {workflow_id} has no version")
    return latest


def live_templates(session: Session) -> list[Workflow]:
    """The example gallery: the seeded examples that are still there."""
    return list(
        session.scalars(
            select(Workflow)
            .where(Workflow.source == "example", Workflow.deleted_at.is_(None))
            .order_by(Workflow.name)
        )
    )


# --- the live tick -------------------------------------------------------------------------


def runs_finished_since(session: Session, since: datetime, limit: int = 20) -> Sequence[Run]:
    """Runs finished since then, the latest first."""
    return session.scalars(
        select(Run).where(Run.finished_at >= since).order_by(Run.finished_at.desc()).limit(limit)
    ).all()


def live_experiment_ids(session: Session, finished_since: datetime, limit: int = 50) -> list[int]:
    """Experiments running now or finished since then (the live pages show their progress)."""
    rows = session.scalars(
        select(Experiment.id)
        .where(or_(Experiment.status == "running", Experiment.finished_at >= finished_since))
        .order_by(Experiment.id.desc())
        .limit(limit)
    )
    return list(rows)


def experiment_names(session: Session, experiment_ids: Sequence[int]) -> dict[int, str]:
    """The name of each of these experiments."""
    if not experiment_ids:
        return {}
    rows = session.execute(
        select(Experiment.id, Experiment.name).where(Experiment.id.in_(list(experiment_ids)))
    )
    return {experiment_id: name for experiment_id, name in rows}


def runs_by_ids(session: Session, run_ids: Sequence[str]) -> Sequence[Run]:
    """The runs with these ids (those that exist)."""
    if not run_ids:
        return []
    return session.scalars(select(Run).where(Run.id.in_(list(run_ids)))).all()


def step_marks(session: Session, run_ids: Sequence[str]) -> list[tuple[str, int, str, str]]:
    """(run id, seq, node, state) of every step of these runs, in order. A tool call
    (a step nested under its node's, ``<node>#<visit>/tool#<n>``) tells its node's state
    only while it waits for a person."""
    if not run_ids:
        return []
    rows = session.execute(
        select(RunStep.run_id, RunStep.seq, RunStep.node, RunStep.state)
        .where(
            RunStep.run_id.in_(list(run_ids)),
            or_(
                RunStep.step_key.is_(None),
                ~RunStep.step_key.contains("/", autoescape=True),
                RunStep.state == AWAITING_APPROVAL,
            ),
        )
        .order_by(RunStep.run_id, RunStep.seq)
    )
    return [(run_id, seq, node, state) for run_id, seq, node, state in rows]


def version_texts(session: Session, version_ids: Sequence[int]) -> dict[int, str]:
    """The config text of each of these workflow versions."""
    if not version_ids:
        return {}
    rows = session.execute(
        select(WorkflowVersion.id, WorkflowVersion.config_yaml).where(
            WorkflowVersion.id.in_(list(version_ids))
        )
    )
    return {version_id: text for version_id, text in rows}


def agent_lines(session: Session, now: datetime | None = None) -> list[AgentLine]:
    """Every agent with its liveness now, most recent heartbeat first."""
    return [
        AgentLine(
            id=status.agent.id,
            name=status.agent.name,
            kind=status.agent.kind,
            host=status.agent.host,
            liveness=status.liveness,
            runs_in_progress=status.agent.runs_in_progress,
            concurrency=status.agent.concurrency,
            last_heartbeat=status.agent.last_heartbeat,
            version=status.agent.version,
        )
        for status in agents.list_with_liveness(session, now=now, limit=200)
    ]


def local_worker_pids(session: Session, host: str, now: datetime | None = None) -> list[int]:
    """The pids of the workers alive on this host (each registered its own pid)."""
    return [
        status.agent.pid
        for status in agents.list_with_liveness(
            session, kind="worker", include_dead=False, now=now, limit=200
        )
        if status.agent.host == host and status.agent.pid is not None
    ]


# --- metrics -------------------------------------------------------------------------------

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def _bucket(session: Session, column: Any, hourly: bool) -> ColumnElement[str]:
    """A text label of the hour or day of a timestamp, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        pattern = "YYYY-MM-DD HH24:00" if hourly else "YYYY-MM-DD"
        return func.to_char(func.timezone("UTC", column), pattern)
    pattern = "%Y-%m-%d %H:00" if hourly else "%Y-%m-%d"
    return cast(func.strftime(pattern, column), String)


@dataclass
class MetricRow:
    """One bucket of one group (a workflow or a model)."""

    bucket: str
    group: str
    steps: int
    tokens: int
    cost: float
    latency_ms: float  # mean step latency


@dataclass
class Metrics:
    """The numbers behind the metrics charts."""

    range: str
    group_by: str
    buckets: list[str] = field(default_factory=list)
    rows: list[MetricRow] = field(default_factory=list)

    def series(self, measure: str) -> dict[str, list[float]]:
        """One value per bucket for each group (0 where the group had nothing)."""
        index = {bucket: i for i, bucket in enumerate(self.buckets)}
        out: dict[str, list[float]] = {}
        for row in self.rows:
            values = out.setdefault(row.group, [0.0] * len(self.buckets))
            values[index[row.bucket]] = float(getattr(row, measure))
        return out

    def totals(self) -> dict[str, float]:
        steps = sum(row.steps for row in self.rows)
        latency = sum(row.latency_ms * row.steps for row in self.rows) / steps if steps else 0.0
        return {
            "steps": steps,
            "tokens": sum(row.tokens for row in self.rows),
            "cost": sum(row.cost for row in self.rows),
            "latency_ms": latency,
        }


def all_buckets(start: datetime, end: datetime, hourly: bool) -> list[str]:
    """Every bucket label between start and end, so quiet periods show as zero."""
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    moment = start.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        moment = moment.replace(hour=0)
    labels = []
    while moment <= end:
        labels.append(moment.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d"))
        moment += step
    return labels


def metrics(
    session: Session, *, range_: str = "7d", group_by: str = "workflow", now: datetime | None = None
) -> Metrics:
    """Cost, tokens and mean latency of steps per time bucket and per workflow or model."""
    if range_ not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}")
    if group_by not in ("workflow", "model"):
        raise ValueError("group must be workflow or model")
    now = now or datetime.now(UTC)
    start = now - RANGES[range_]
    hourly = range_ == "24h"
    bucket = _bucket(session, RunStep.started_at, hourly).label("bucket")
    group = (
        Run.workflow_name if group_by == "workflow" else func.coalesce(RunStep.model, "(no model)")
    ).label("grp")
    query = (
        select(
            bucket,
            group,
            func.count(),
            func.coalesce(func.sum(RunStep.prompt_tokens + RunStep.completion_tokens), 0),
            func.coalesce(func.sum(RunStep.cost), 0.0),
            func.coalesce(func.avg(RunStep.latency_ms), 0.0),
        )
        .join(Run, Run.id == RunStep.run_id)
        .where(RunStep.started_at >= start)
        .group_by(bucket, group)
        .order_by(bucket, group)
    )
    result = Metrics(range=range_, group_by=group_by, buckets=all_buckets(start, now, hourly))
    known = set(result.buckets)
    for label, name, steps, tokens, cost, latency in session.execute(query):
        if label not in known:  # a step stamped in the future: keep it visible
            result.buckets.append(label)
            known.add(label)
        result.rows.append(
            MetricRow(str(label), str(name), int(steps), int(tokens), float(cost), float(latency))
        )
    result.buckets.sort()
    return result


def run_token_usage(session: Session, run_id: str) -> tuple[int, int]:
    """(prompt, completion) tokens of every step of the run."""
    row = session.execute(
        select(
            func.coalesce(func.sum(RunStep.prompt_tokens), 0),
            func.coalesce(func.sum(RunStep.completion_tokens), 0),
        ).where(RunStep.run_id == run_id)
    ).one()
    return int(row[0]), int(row[1])


def steps_from(session: Session, run_id: str, first_seq: int) -> Sequence[RunStep]:
    """The run's steps from sequence number ``first_seq`` on, in order."""
    return session.scalars(
        select(RunStep)
        .where(RunStep.run_id == run_id, RunStep.seq >= first_seq)
        .order_by(RunStep.seq)
    ).all()
