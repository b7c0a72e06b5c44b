"""`configurable-agents ...`: the command line.

Start-up must stay fast (`--help` and `status` under 0.5 s): heavy modules are imported
inside the command that needs them, never at the top of this file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from configurable_agents import __version__

Command = Callable[[argparse.Namespace], int]


def _cmd_release(args: argparse.Namespace) -> int:
    from configurable_agents.bootstrap import fail, open_database, start_process
    from configurable_agents.release import run_release, wait_for_stop

    settings = start_process("release")
    database = open_database(settings, "release", wait_for_schema=False)
    try:
        result = run_release(settings, database.engine)
    except Exception as error:  # a failed migration must say why, in one line
        raise fail(
            "release", f"migration or seeding failed: {type(error).__name__}: {error}"
        ) from None
    print(
        f"release: schema at {result.revision}; seeded {len(result.seeded)} example workflow(s), "
        f"{len(result.already_stored)} already stored",
        flush=True,
    )
    for problem in result.skipped:
        print(f"release: skipped example {problem}", file=sys.stderr, flush=True)
    database.engine.dispose()
    if args.stay:
        # honcho stops the whole set when any process exits, even with code 0.
        wait_for_stop()
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from configurable_agents.bootstrap import open_database, start_process
    from configurable_agents.storage.migrations import upgrade_to_head

    settings = start_process("migrate")
    database = open_database(settings, "migrate", wait_for_schema=False)
    state = upgrade_to_head(database.engine, settings.ensure_data_dir())
    print(f"schema at {state.head}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from configurable_agents.settings import load_settings_or_exit
    from configurable_agents.status.terminal import print_status

    return print_status(load_settings_or_exit("status"), as_json=args.json)


def _cmd_mlflow_server(args: argparse.Namespace) -> int:
    from configurable_agents.tracking.server import exec_mlflow_server

    return exec_mlflow_server()


def _cmd_worker(args: argparse.Namespace) -> int:
    from configurable_agents.queue.worker import run_worker

    return run_worker()


def _cmd_validate(args: argparse.Namespace) -> int:
    from configurable_agents.run_commands import cmd_validate

    return cmd_validate(args.file)


def _cmd_graph(args: argparse.Namespace) -> int:
    from configurable_agents.run_commands import cmd_graph

    return cmd_graph(args.file)


def _cmd_run(args: argparse.Namespace) -> int:
    from configurable_agents.run_commands import cmd_run

    return cmd_run(args.file, args.input, as_json=args.json, queue=args.queue)


def _cmd_resume(args: argparse.Namespace) -> int:
    from configurable_agents.run_commands import cmd_resume

    return cmd_resume(args.run_id, as_json=args.json)


def _cmd_approve(args: argparse.Namespace) -> int:
    from configurable_agents.run_commands import cmd_approve

    return cmd_approve(args.run_id, approved=not args.reject, comment=args.comment)


def _cmd_runs(args: argparse.Namespace) -> int:
    from configurable_agents.run_commands import cmd_runs

    return cmd_runs(args.limit, as_json=args.json)


def _cmd_show(args: argparse.Namespace) -> int:
    from configurable_agents.run_commands import cmd_show

    return cmd_show(args.run_id, as_json=args.json)


def _cmd_agents(args: argparse.Namespace) -> int:
    from configurable_agents import agent_commands

    action = getattr(args, "agents_action", None)
    if action == "register":
        return agent_commands.cmd_register(args.name, args.url, ttl=args.ttl, as_json=args.json)
    if action == "dispatch":
        return agent_commands.cmd_dispatch(args.name, args.input, as_json=args.json)
    if action == "remove":
        return agent_commands.cmd_remove(args.agent_id)
    return agent_commands.cmd_list(as_json=args.json, include_dead=args.all)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="configurable-agents",
        description="Local-first LLM agent workflows: YAML configs, workers, a live dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    release = add("release", _cmd_release, "migrate the database to head and seed the examples")
    release.add_argument(
        "--stay",
        action="store_true",
        help="keep running afterwards (for the Procfile under honcho)",
    )
    add("migrate", _cmd_migrate, "migrate the database to head")
    status = add("status", _cmd_status, "show the health of the service set, runs and workers")
    status.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    validate = add(
        "validate", _cmd_validate, "check a workflow file; exit 2 with file:line:col errors"
    )
    validate.add_argument("file")
    graph = add("graph", _cmd_graph, "print a workflow's graph as Mermaid")
    graph.add_argument("file")
    run = add(
        "run",
        _cmd_run,
        "run a workflow file with live progress (exit 0 done, 1 failed, 2 invalid, 3 awaiting approval)",
    )
    run.add_argument("file")
    run.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input (NAME=@file reads a file)",
    )
    run.add_argument("--json", action="store_true", help="print the run and its steps as JSON")
    run.add_argument("--queue", action="store_true", help="hand the run to the workers instead")
    resume = add("resume", _cmd_resume, "resume an interrupted run from its last completed step")
    resume.add_argument("run_id")
    resume.add_argument("--json", action="store_true")
    approve = add(
        "approve", _cmd_approve, "approve (or --reject) a run waiting for approval, and continue it"
    )
    approve.add_argument("run_id")
    approve.add_argument("--reject", action="store_true")
    approve.add_argument("--comment", default="", help="feedback for the workflow")
    runs = add("runs", _cmd_runs, "list recent runs")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
    show = add("show", _cmd_show, "show a run with every step")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true")
    agents = add(
        "agents",
        _cmd_agents,
        "list workers and remote agents (alive/stale/dead); register, dispatch to, remove one",
    )
    agents.add_argument("--json", action="store_true", help="print as JSON")
    agents.add_argument("--all", action="store_true", help="include dead agents")
    agent_actions = agents.add_subparsers(dest="agents_action", metavar="ACTION")
    register = agent_actions.add_parser(
        "register", help="register a remote agent (its input schema is fetched from URL/schema)"
    )
    register.add_argument("name")
    register.add_argument("url")
    register.add_argument(
        "--ttl", type=float, default=60.0, help="seconds between heartbeats it promises"
    )
    register.add_argument("--json", action="store_true", help="print id and token as JSON")
    dispatch = agent_actions.add_parser("dispatch", help="queue a run for a remote agent")
    dispatch.add_argument("name")
    dispatch.add_argument(
        "--input", "-i", action="append", default=[], metavar="NAME=VALUE", help="an input"
    )
    dispatch.add_argument("--json", action="store_true", help="print the run id as JSON")
    remove = agent_actions.add_parser("remove", help="retire a registered remote agent")
    remove.add_argument("agent_id")
    add("mlflow-server", _cmd_mlflow_server, "run this set's MLflow tracking server")
    add("worker", _cmd_worker, "run a worker that executes queued workflow runs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `configurable-agents` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Command | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
