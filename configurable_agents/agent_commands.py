"""`configurable-agents agents ...`: list workers and remote agents, register a remote agent,
dispatch a run to one, retire one.

Exit codes: 0 done, 1 the agent is not usable (dead, unknown, unreachable), 2 bad input.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

EXIT_OK, EXIT_UNAVAILABLE, EXIT_INVALID = 0, 1, 2


def _database(process: str) -> tuple[Any, Any]:
    from configurable_agents.run_commands import _database as open_migrated

    return open_migrated(process)


def agent_rows(session: Any, *, include_dead: bool) -> list[dict[str, Any]]:
    """Every agent with its liveness, as plain data (for --json and the table)."""
    from configurable_agents.queue.remote import agent_json
    from configurable_agents.storage.repositories import agents

    statuses = agents.list_with_liveness(session, include_dead=include_dead)
    return [agent_json(status.agent, status.liveness) for status in statuses]


def cmd_list(*, as_json: bool, include_dead: bool) -> int:
    _, database = _database("agents")
    with database.session_factory() as session:
        rows = agent_rows(session, include_dead=include_dead)
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        hint = "" if include_dead else " (--all shows dead ones too)"
        print(f"no agents{hint}; start one with `configurable-agents worker`")
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table("state", "kind", "name", "id", "where", "runs", "last heartbeat")
    colours = {"alive": "green", "stale": "yellow", "dead": "red"}
    for row in rows:
        where = row["url"] or f"{row['host']} pid {row['pid']}"
        seen = datetime.fromisoformat(row["last_heartbeat"]).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            f"[{colours[row['state']]}]{row['state']}[/]",
            row["kind"],
            row["name"],
            row["id"],
            where,
            f"{row['runs_in_progress']}/{row['concurrency']}",
            seen,
        )
    Console().print(table)
    return EXIT_OK


def cmd_register(name: str, url: str, *, ttl: float, as_json: bool) -> int:
    from configurable_agents.queue.remote import RegistrationError, register_remote_agent

    _, database = _database("agents")
    try:
        registered = register_remote_agent(
            database.session_factory, name=name, url=url, ttl_seconds=ttl
        )
    except RegistrationError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    agent = registered.agent
    if as_json:
        print(json.dumps({"id": agent.id, "name": agent.name, "token": registered.token}))
        return EXIT_OK
    print(f"registered remote agent {agent.name} as {agent.id}")
    print(f"token (shown only now): {registered.token}")
    print(
        f"heartbeat at least every {ttl:g} s: POST /api/v1/agents/{agent.id}/heartbeat "
        "with 'Authorization: Bearer <token>'"
    )
    return EXIT_OK


def cmd_dispatch(name: str, pairs: list[str], *, as_json: bool) -> int:
    from configurable_agents.config.errors import InvalidInputsError
    from configurable_agents.queue.errors import REFUSALS
    from configurable_agents.queue.remote import dispatch_to_agent
    from configurable_agents.run_commands import parse_inputs

    try:
        values = parse_inputs(pairs)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    settings, database = _database("agents")
    try:
        run = dispatch_to_agent(settings, database.session_factory, name, values, trigger="cli")
    except InvalidInputsError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_INVALID
    except REFUSALS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if as_json:
        print(json.dumps({"run_id": run.id, "state": run.state, "agent": name}))
    else:
        print(f"queued run {run.id} for {name}; follow it with `configurable-agents show {run.id}`")
    return EXIT_OK


def cmd_remove(agent_id: str) -> int:
    from configurable_agents.queue.errors import REFUSALS
    from configurable_agents.queue.remote import require_agent
    from configurable_agents.storage.database import session_scope
    from configurable_agents.storage.repositories import agents

    _, database = _database("agents")
    try:
        with session_scope(database.session_factory) as session:
            agent = require_agent(session, agent_id)
            agents.deregister(session, agent.id)
    except REFUSALS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(f"remote agent {agent.name} ({agent_id}) retired")
    return EXIT_OK
