"""`configurable-agents status`: the status snapshot in the terminal."""

from __future__ import annotations

import json

from configurable_agents.settings import Settings
from configurable_agents.status.snapshot import StatusSnapshot, gather_snapshot
from configurable_agents.storage.database import create_db_engine


def take_snapshot(settings: Settings) -> StatusSnapshot:
    """A snapshot without waiting on the schema: status must answer even on a broken set."""

    engine = create_db_engine(settings.effective_database_url, connect_timeout=2)
    try:
        return gather_snapshot(settings, engine)
    finally:
        engine.dispose()


def print_status(settings: Settings, *, as_json: bool = False) -> int:
    """Print the snapshot; exit code 0 when every service and the database are healthy, else 1."""
    snapshot = take_snapshot(settings)
    healthy = snapshot.database.at_head and all(s.healthy for s in snapshot.services)
    if as_json:
        print(json.dumps(snapshot.as_dict(), indent=2))
        return 0 if healthy else 1

    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Service set", title_justify="left")
    table.add_column("service")
    table.add_column("state")
    table.add_column("detail")
    for service in snapshot.services:
        state = "[green]up[/]" if service.healthy else "[red]down[/]"
        table.add_row(service.name, state, f"{service.detail} ({service.url})")
    db = snapshot.database
    if not db.reachable:
        table.add_row("database", "[red]unreachable[/]", f"{db.error} ({db.url})")
    elif not db.at_head:
        detail = f"schema {db.schema_current or 'empty'}, needs {db.schema_head}: run `configurable-agents migrate`"
        table.add_row("database", "[yellow]behind[/]", detail)
    else:
        table.add_row("database", "[green]up[/]", f"schema {db.schema_current} ({db.url})")
    console.print(table)
    runs = ", ".join(f"{state} {count}" for state, count in snapshot.runs_by_state.items())
    console.print(f"runs: {runs or 'none'}")
    console.print(f"workers alive: {snapshot.workers_alive}   queue depth: {snapshot.queue_depth}")
    console.print(
        f"MLflow records pending: {snapshot.tracking_pending}   failed: {snapshot.tracking_failed}"
    )
    return 0 if healthy else 1
