"""One snapshot of the whole set, shared by the dashboard and `configurable-agents status`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from configurable_agents.settings import Settings
from configurable_agents.status.probes import ServiceHealth, probe_services
from configurable_agents.storage.database import redact_url
from configurable_agents.storage.migrations import current_revision, head_revision
from configurable_agents.storage.states import RunState


@dataclass
class DatabaseStatus:
    """Whether the app database answers and where its schema stands."""

    url: str
    reachable: bool
    error: str | None = None
    schema_current: str | None = None
    schema_head: str | None = None

    @property
    def at_head(self) -> bool:
        return self.reachable and self.schema_current == self.schema_head


@dataclass
class StatusSnapshot:
    """Everything the status views show, gathered at one moment."""

    taken_at: datetime
    database: DatabaseStatus
    services: list[ServiceHealth] = field(default_factory=list)
    runs_by_state: dict[str, int] = field(default_factory=dict)
    workers_alive: int = 0
    queue_depth: int = 0
    # MLflow records waiting in the tracking outbox, and those MLflow refused for good.
    tracking_pending: int = 0
    tracking_failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API and the SSE stream send this)."""
        return {
            "taken_at": self.taken_at.isoformat(),
            "database": {
                "url": self.database.url,
                "reachable": self.database.reachable,
                "error": self.database.error,
                "schema_current": self.database.schema_current,
                "schema_head": self.database.schema_head,
                "at_head": self.database.at_head,
            },
            "services": [service.as_dict() for service in self.services],
            "runs_by_state": self.runs_by_state,
            "workers_alive": self.workers_alive,
            "queue_depth": self.queue_depth,
            "tracking": {"pending": self.tracking_pending, "failed": self.tracking_failed},
        }

    def fingerprint(self) -> tuple[Any, ...]:
        """What must change for subscribers to be told (not the timestamp or latencies)."""
        return (
            self.database.reachable,
            self.database.error,
            self.database.at_head,
            tuple((s.name, s.healthy, s.detail) for s in self.services),
            tuple(sorted(self.runs_by_state.items())),
            self.workers_alive,
            self.queue_depth,
            self.tracking_pending,
            self.tracking_failed,
        )


# Plain SQL keeps `configurable-agents status` from importing the ORM (it must start fast).
_RUNS_BY_STATE = text("SELECT state, COUNT(*) FROM runs GROUP BY state")
_TRACKING = text("SELECT state, COUNT(*) FROM tracking_outbox GROUP BY state")
_WORKERS = text(
    "SELECT last_heartbeat, ttl_seconds FROM agents "
    "WHERE kind = 'worker' AND deregistered_at IS NULL AND last_heartbeat >= :since"
)


def _as_utc(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def gather_database(engine: Engine, url: str) -> tuple[DatabaseStatus, dict[str, Any]]:
    """Read the database part of the snapshot on one connection; never raises.

    ``engine`` may also be a session factory bound to one.
    """

    engine = getattr(engine, "kw", {}).get("bind", engine)

    status = DatabaseStatus(url=url, reachable=False, schema_head=head_revision())
    facts: dict[str, Any] = {"runs_by_state": {}, "workers_alive": 0, "queue_depth": 0}
    try:
        status.schema_current = current_revision(engine)
        status.reachable = True
        if status.at_head:
            now = datetime.now(UTC)
            with engine.connect() as connection:
                counts = dict.fromkeys(RunState.ALL, 0)
                counts.update({state: int(n) for state, n in connection.execute(_RUNS_BY_STATE)})
                since = now - timedelta(hours=1)
                workers = connection.execute(_WORKERS, {"since": since}).all()
                tracking = {state: int(n) for state, n in connection.execute(_TRACKING)}
            facts["tracking_pending"] = tracking.get("pending", 0)
            facts["tracking_failed"] = tracking.get("failed", 0)
            facts["runs_by_state"] = counts
            facts["queue_depth"] = counts[RunState.QUEUED]
            facts["workers_alive"] = sum(
                1 for beat, ttl in workers if (now - _as_utc(beat)).total_seconds() <= float(ttl)
            )
    except Exception as error:  # any driver error: report it, never raise from a status view
        orig = getattr(error, "orig", None) or error
        status.error = (str(orig).strip().splitlines() or [type(error).__name__])[0]
        if status.error == "unable to open database file" and str(engine.url).startswith("sqlite"):
            status.error = (
                "no database yet: start the set (make start) or run `configurable-agents migrate`"
            )
    return status, facts


def gather_snapshot(
    settings: Settings,
    engine: Engine | Any,
    *,
    skip_services: frozenset[str] = frozenset(),
) -> StatusSnapshot:
    """Probe the services and read the database once (``engine`` may be a session factory)."""

    database, facts = gather_database(engine, redact_url(settings.effective_database_url))
    return StatusSnapshot(
        taken_at=datetime.now(UTC),
        database=database,
        services=probe_services(settings, skip=skip_services),
        **facts,
    )
