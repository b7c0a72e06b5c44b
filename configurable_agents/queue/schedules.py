"""Cron schedules from the workflow configs (`schedules:`), started by a periodic task that
each worker registers (:func:`register_tick`).

Every worker checks the schedules once a minute. A schedule is due when its latest cron
time (in its time zone) lies within :data:`GRACE_SECONDS`; the run is started through a
trigger event keyed ``schedule#<index> <cron>@<tick time UTC>``, so however many workers
see the same tick, exactly one run starts for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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
from configurable_agents.storage.models import Workflow, WorkflowVersion

log = logging.getLogger(__name__)
# A tick older than this is not started any more (two periodic checks of every worker).
GRACE_SECONDS = 120.0


@dataclass(frozen=True)
class Tick:
    """One due occurrence of a schedule."""

    index: int
    schedule: Schedule
    at: datetime  # UTC

    @property
    def key(self) -> str:
        return f"schedule#{self.index} {self.schedule.cron}@{self.at:%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class TickResult:
    """What the tick did for one due schedule."""

    workflow: str
    key: str
    run_id: str | None
    duplicate: bool
    error: str = ""


def due_ticks(config: WorkflowConfig, now: datetime) -> list[Tick]:
    """The schedules of a config whose latest cron time is at most GRACE_SECONDS old."""
    ticks = []
    for index, schedule in enumerate(config.schedules):
        zone = ZoneInfo(schedule.timezone)
        local_now = now.astimezone(zone)
        # Just after now, so a tick at exactly this second counts as the latest one.
        latest = croniter(schedule.cron, local_now + timedelta(seconds=1)).get_prev(datetime)
        if (local_now - latest).total_seconds() <= GRACE_SECONDS:
            ticks.append(Tick(index, schedule, latest.astimezone(UTC)))
    return ticks


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


def tick(
    settings: Settings, session_factory: sessionmaker[Session], *, now: datetime | None = None
) -> list[TickResult]:
    """Start one run for each due schedule tick that no worker started yet."""

    now = now or datetime.now(UTC)
    with session_factory() as session:
        candidates = scheduled_workflows(session)
    results = []
    for name, version in candidates:
        try:
            ticks = due_ticks(config_of(version), now)
        except ConfigError as error:
            log.warning("schedules of %s skipped: its config no longer validates: %s", name, error)
            continue
        for due in ticks:
            try:
                started = start_triggered_run(
                    settings,
                    session_factory,
                    workflow_name=name,
                    kind="schedule",
                    key=due.key,
                    inputs=dict(due.schedule.inputs),
                    detail=due.schedule.description or f"cron {due.schedule.cron}",
                )
            except REFUSALS as error:
                log.warning("tick %s of %s: no run started: %s", due.key, name, error)
                results.append(TickResult(name, due.key, None, False, str(error)))
                continue
            what = "already started" if started.duplicate else "started"
            log.info("tick %s of %s: %s run %s", due.key, name, what, started.run_id)
            results.append(TickResult(name, due.key, started.run_id, started.duplicate))
    return results


def register_tick(huey: Huey, settings: Settings, session_factory: sessionmaker[Session]) -> Any:
    """Register the periodic schedule tick on a worker's Huey instance; returns the task.

    Every worker checks the schedules each minute; the tick's key makes a run start once.
    """

    @huey.periodic_task(crontab(), name="schedule_tick")
    def schedule_tick() -> int:
        """Start the runs whose cron schedule is due (once per tick over all workers)."""
        return len(tick(settings, session_factory))

    return schedule_tick
