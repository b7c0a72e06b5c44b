"""`configurable-agents agents ...`: list workers and remote agents, register a remote agent,
dispatch a run to one, retire one.

Exit codes: 0 done, 1 the agent is not usable (dead, unknown, unreachable), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from configurable_agents.cli._shared import AddCommand, open_migrated_database, parse_inputs

EXIT_OK, EXIT_UNAVAILABLE, EXIT_INVALID = 0, 1, 2


def register(add: AddCommand) -> None:
    """Add `agents` and its actions `register`, `dispatch`, `remove` to the parser."""
    agents = add(
        "agents",
        cmd_agents,
        "list workers and remote agents (alive/stale/dead); register, dispatch to, remove one",
    )
    agents.add_argument("--json", action="store_true", help="print as JSON")
    agents.add_argument("--all", action="store_true", help="include dead agents")
    agent_actions = agents.add_subparsers(dest="agents_action", metavar="ACTION")
    register_action = agent_actions.add_parser(
        "register", help="register a remote agent (its input schema is fetched from URL/schema)"
    )
    register_action.add_argument("name")
    register_action.add_argument("url")
    register_action.add_argument(
        "--ttl", type=float, default=60.0, help="seconds between heartbeats it promises"
    )
    register_action.add_argument("--json", action="store_true", help="print id and token as JSON")
    dispatch_action = agent_actions.add_parser("dispatch", help="queue a run for a remote agent")
    dispatch_action.add_argument("name")
    dispatch_action.add_argument(
        "--input", "-i", action="append", default=[], metavar="NAME=VALUE", help="an input"
    )
    dispatch_action.add_argument("--json", action="store_true", help="print the run id as JSON")
    remove_action = agent_actions.add_parser("remove", help="retire a registered remote agent")
    remove_action.add_argument("agent_id")


def cmd_agents(args: argparse.Namespace) -> int:
    """Run the chosen action; without one, list the agents."""
    action = getattr(args, "agents_action", None)
    if action == "register":
        return cmd_register(args.name, args.url, ttl=args.ttl, as_json=args.json)
    if action == "dispatch":
        return cmd_dispatch(args.name, args.input, as_json=args.json)
    if action == "remove":
        return cmd_remove(args.agent_id)
    return cmd_list(as_json=args.json, include_dead=args.all)


def agent_rows(session: Any, *, include_dead: bool) -> list[dict[str, Any]]:
    """Every agent with its liveness, as plain data (for --json and the table)."""
    from configurable_agents.queue.remote import agent_json
    from configurable_agents.storage.repositories import agents

    statuses = agents.list_with_liveness(session, include_dead=include_dead)
    return [agent_json(status.agent, status.liveness) for status in statuses]


def cmd_list(*, as_json: bool, include_dead: bool) -> int:
    """List workers and remote agents with their liveness (dead ones only with --all)."""
    _, database = open_migrated_database("agents")
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
    """Register a remote agent and print its id and its token (shown only once)."""
    from configurable_agents.queue.remote import RegistrationError, register_remote_agent

    _, database = open_migrated_database("agents")
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
    """Queue a run for the named remote agent."""
    from configurable_agents.config.errors import InvalidInputsError
    from configurable_agents.queue.errors import REFUSALS
    from configurable_agents.queue.remote import dispatch_to_agent

    try:
        values = parse_inputs(pairs)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    settings, database = open_migrated_database("agents")
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
    """Retire a registered remote agent."""
    from configurable_agents.queue.errors import REFUSALS
    from configurable_agents.queue.remote import require_agent
    from configurable_agents.storage.database import session_scope
    from configurable_agents.storage.repositories import agents

    _, database = open_migrated_database("agents")
    try:
        with session_scope(database.session_factory) as session:
            agent = require_agent(session, agent_id)
            agents.deregister(session, agent.id)
    except REFUSALS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(f"remote agent {agent.name} ({agent_id}) retired")
    return EXIT_OK
