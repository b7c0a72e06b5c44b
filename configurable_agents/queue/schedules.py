"""Cron schedules from the workflow configs (`schedules:`), started by a periodic task that
each worker registers (:func:`register_tick`).

Every worker checks the schedules once a minute. Each tick of a schedule is handled once
over all workers and recorded as a trigger event keyed ``schedule#<index> <cron>@<tick time
UTC>`` with its outcome: ``started`` (the run), ``skipped`` (missed: no worker checked it
within :data:`GRACE_SECONDS`, and the schedule's ``catch_up`` policy does not start it) or
``refused`` (invalid inputs, a full queue: the reason). The ticks a check considers are
those after the latest one handled (or after the schedule's version was saved):

- ``catch_up: none`` (the default) starts a tick only within the grace period;
- ``catch_up: latest`` also starts the most recent missed tick when none is on time;
- ``catch_up: all`` starts up to ``max_catch_up`` missed ticks (the latest ones), oldest first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from huey import Huey, crontab
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import ConfigError
from configurable_agents.config.schema import Schedule, WorkflowConfig
from configurable_agents.queue.configs import config_of
from configurable_agents.queue.errors import REFUSALS
from configurable_agents.queue.triggers import start_triggered_run
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Workflow, WorkflowVersion
from configurable_agents.storage.repositories import triggers

log = logging.getLogger(__name__)
# A tick older than this was missed (two periodic checks of every worker).
GRACE_SECONDS = 120.0
# Ticks one check looks back at, at most, per schedule: older missed ones are summed up in
# the detail of the oldest recorded one instead of a row each.
SCAN_LIMIT = 200
KEY_TIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Tick:
    """One occurrence of a schedule."""

    index: int
    schedule: Schedule
    at: datetime  # UTC

    @property
    def key(self) -> str:
        return f"{key_prefix(self.index, self.schedule)}{self.at.strftime(KEY_TIME)}"


def key_prefix(index: int, schedule: Schedule) -> str:
    """What every tick key of a schedule starts with."""
    return f"schedule#{index} {schedule.cron}@"


@dataclass(frozen=True)
class TickPlan:
    """What a check does with the ticks of one schedule since the last one handled."""

    start: list[Tick] = field(default_factory=list)  # oldest first
    skip: list[Tick] = field(default_factory=list)
    # Set when more ticks were missed than SCAN_LIMIT: the earliest one looked at.
    truncated: bool = False


@dataclass(frozen=True)
class TickResult:
    """What the check did with one tick."""

    workflow: str
    key: str
    run_id: str | None
    duplicate: bool
    error: str = ""
    outcome: str = triggers.STARTED


def ticks_since(index: int, schedule: Schedule, *, now: datetime, since: datetime) -> list[Tick]:
    """The schedule's ticks in (since, now], newest first, at most SCAN_LIMIT + 1."""
    zone = ZoneInfo(schedule.timezone)
    # Just after now, so a tick at exactly this second counts.
    moments = croniter(schedule.cron, now.astimezone(zone) + timedelta(seconds=1))
    found: list[Tick] = []
    while len(found) <= SCAN_LIMIT:
        at = moments.get_prev(datetime).astimezone(UTC)
        if at <= since:
            break
        found.append(Tick(index, schedule, at))
    return found


def plan_ticks(index: int, schedule: Schedule, *, now: datetime, since: datetime) -> TickPlan:
    """Which ticks after ``since`` to start and which to record as skipped, by the
    schedule's catch_up policy."""
    found = ticks_since(index, schedule, now=now, since=since)
    truncated = len(found) > SCAN_LIMIT
    found = found[:SCAN_LIMIT]
    on_time = [t for t in found if (now - t.at).total_seconds() <= GRACE_SECONDS]
    missed = [t for t in found if (now - t.at).total_seconds() > GRACE_SECONDS]
    caught: list[Tick] = []
    if schedule.catch_up == "latest" and not on_time:
        caught = missed[:1]
    elif schedule.catch_up == "all":
        caught = missed[: schedule.max_catch_up]
    start = sorted(on_time + caught, key=lambda t: t.at)
    skip = sorted((t for t in missed if t not in caught), key=lambda t: t.at)
    return TickPlan(start=start, skip=skip, truncated=truncated)


def due_ticks(config: WorkflowConfig, now: datetime) -> list[Tick]:
    """The ticks of a config within GRACE_SECONDS of ``now`` (started on time by any policy)."""
    since = now - timedelta(seconds=GRACE_SECONDS)
    return [
        tick
        for index, schedule in enumerate(config.schedules)
        for tick in reversed(ticks_since(index, schedule, now=now, since=since))
    ]


def scheduled_workflows(session: Session) -> list[tuple[str, Any]]:
    """(name, latest version) of every live workflow whose latest config has schedules."""

    rows = session.execute(
        select(Workflow.name, WorkflowVersion)
        .join(WorkflowVersion, WorkflowVersion.workflow_id == Workflow.id)
        .where(
            Workflow.deleted_at.is_(None),
            WorkflowVersion.version == Workflow.latest_version,
            # Cheap filter before parsing: a config without the word has no schedules.
            WorkflowVersion.config_yaml.contains("schedules"),
        )
    ).all()
    return [(name, version) for name, version in rows]


def last_handled(
    session: Session, workflow_name: str, index: int, schedule: Schedule
) -> datetime | None:
    """The time of the schedule's latest tick with a recorded outcome, if any."""
    key = triggers.latest_key(
        session,
        workflow_name=workflow_name,
        kind="schedule",
        prefix=key_prefix(index, schedule),
    )
    return tick_time(key) if key is not None else None


def tick_time(key: str) -> datetime | None:
    """The tick time a schedule key ends with (None for a key that is not a tick's)."""
    try:
        return datetime.strptime(key.rsplit("@", 1)[1], KEY_TIME).replace(tzinfo=UTC)
    except (IndexError, ValueError):
        return None


def tick(
    settings: Settings, session_factory: sessionmaker[Session], *, now: datetime | None = None
) -> list[TickResult]:
    """Handle every tick of every schedule since its last handled one, once over all workers."""

    now = now or datetime.now(UTC)
    with session_factory() as session:
        candidates = scheduled_workflows(session)
    results: list[TickResult] = []
    for name, version in candidates:
        try:
            config = config_of(version)
        except ConfigError as error:
            log.warning("schedules of %s skipped: its config no longer validates: %s", name, error)
            continue
        for index, schedule in enumerate(config.schedules):
            with session_factory() as session:
                since = last_handled(session, name, index, schedule) or version.created_at
            plan = plan_ticks(index, schedule, now=now, since=since)
            for number, missed in enumerate(plan.skip):
                earlier = plan.truncated and number == 0
                results.append(
                    _skip(session_factory, name, missed, now, since if earlier else None)
                )
            for due in plan.start:
                results.append(_start(settings, session_factory, name, due, now))
    return results


def _skip(
    session_factory: sessionmaker[Session],
    name: str,
    missed: Tick,
    now: datetime,
    earlier_since: datetime | None,
) -> TickResult:
    late = int((now - missed.at).total_seconds())
    policy = missed.schedule.catch_up
    why = (
        f"beyond max_catch_up {missed.schedule.max_catch_up}"
        if policy == "all"
        else "a later tick was started"
        if policy == "latest"
        else "catch_up: none"
    )
    detail = f"missed: no worker checked it in time ({late} s late); {why}"
    if earlier_since is not None:
        detail += f"; earlier ticks since {earlier_since:%Y-%m-%dT%H:%M:%SZ} were missed too"
    duplicate = _record_outcome(session_factory, name, missed, detail, triggers.SKIPPED)
    if not duplicate:
        log.warning("tick %s of %s: skipped: %s", missed.key, name, detail)
    return TickResult(name, missed.key, None, duplicate, detail, triggers.SKIPPED)


def _record_outcome(
    session_factory: sessionmaker[Session], name: str, tick: Tick, detail: str, outcome: str
) -> bool:
    """Record a tick that started no run; whether another check had recorded it first."""
    with session_scope(session_factory) as session:
        return triggers.record(
            session,
            workflow_name=name,
            kind="schedule",
            key=tick.key,
            detail=detail[:4000],
            outcome=outcome,
        ).duplicate


def _start(
    settings: Settings,
    session_factory: sessionmaker[Session],
    name: str,
    due: Tick,
    now: datetime,
) -> TickResult:
    late = (now - due.at).total_seconds() > GRACE_SECONDS
    detail = due.schedule.description or f"cron {due.schedule.cron}"
    if late:
        detail += f" (caught up: catch_up {due.schedule.catch_up})"
    try:
        started = start_triggered_run(
            settings,
            session_factory,
            workflow_name=name,
            kind="schedule",
            key=due.key,
            inputs=dict(due.schedule.inputs),
            detail=detail,
        )
    except REFUSALS as error:
        duplicate = _record_outcome(
            session_factory, name, due, f"refused: {error}", triggers.REFUSED
        )
        if not duplicate:
            log.warning("tick %s of %s: no run started: %s", due.key, name, error)
        return TickResult(name, due.key, None, duplicate, str(error), triggers.REFUSED)
    what = "already started" if started.duplicate else "started"
    log.info("tick %s of %s: %s run %s", due.key, name, what, started.run_id)
    return TickResult(name, due.key, started.run_id, started.duplicate)


def register_tick(huey: Huey, settings: Settings, session_factory: sessionmaker[Session]) -> Any:
    """Register the periodic schedule tick on a worker's Huey instance; returns the task.

    Every worker checks the schedules each minute; the tick's key makes a run start once.
    """

    @huey.periodic_task(crontab(), name="schedule_tick")
    def schedule_tick() -> int:
        """Start the runs whose cron schedule is due (once per tick over all workers)."""
        return len(tick(settings, session_factory))

    return schedule_tick
