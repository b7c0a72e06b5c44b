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
