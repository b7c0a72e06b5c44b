"""One snapshot of the whole set, shared by the dashboard and `configurable-agents status`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings
from configurable_agents.status.probes import ServiceHealth, probe_services


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
        )


def gather_database(
    session_factory: sessionmaker[Session], url: str
) -> tuple[DatabaseStatus, dict[str, Any]]:
    """Read the database part of the snapshot in one session."""
    from configurable_agents.storage.migrations import head_revision
    from configurable_agents.storage.models import RunState
    from configurable_agents.storage.repositories import agents, runs

    status = DatabaseStatus(url=url, reachable=False, schema_head=head_revision())
    facts: dict[str, Any] = {"runs_by_state": {}, "workers_alive": 0, "queue_depth": 0}
    try:
        with session_factory() as session:
            from configurable_agents.storage.migrations import current_revision

            status.schema_current = current_revision(session.get_bind())  # type: ignore[arg-type]
            status.reachable = True
            if status.at_head:
                facts["runs_by_state"] = runs.count_by_state(session)
                facts["workers_alive"] = agents.count_alive(session)
                facts["queue_depth"] = facts["runs_by_state"].get(RunState.QUEUED, 0)
    except Exception as error:  # any driver error: report it, never raise from a status view
        orig = getattr(error, "orig", None) or error
        status.error = (str(orig).strip().splitlines() or [type(error).__name__])[0]
    return status, facts


def gather_snapshot(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    skip_services: frozenset[str] = frozenset(),
) -> StatusSnapshot:
    """Probe the services and read the database once."""
    from configurable_agents.storage.database import redact_url

    database, facts = gather_database(session_factory, redact_url(settings.effective_database_url))
    return StatusSnapshot(
        taken_at=datetime.now(UTC),
        database=database,
        services=probe_services(settings, skip=skip_services),
        **facts,
    )
