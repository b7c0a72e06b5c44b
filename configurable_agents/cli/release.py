"""`configurable-agents release` and `migrate`: bring the database to the code's schema."""

from __future__ import annotations

import argparse
import sys

from configurable_agents.cli._shared import AddCommand


def register(add: AddCommand) -> None:
    """Add `release` and `migrate` to the parser."""
    release = add("release", cmd_release, "migrate the database to head and seed the examples")
    release.add_argument(
        "--stay",
        action="store_true",
        help="keep running afterwards (for the Procfile under honcho)",
    )
    add("migrate", cmd_migrate, "migrate the database to head")


def cmd_release(args: argparse.Namespace) -> int:
    """Migrate to head and seed the example workflows; with --stay, wait for a stop signal."""
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


def cmd_migrate(args: argparse.Namespace) -> int:
    """Migrate the database to head and print the revision."""
    from configurable_agents.bootstrap import open_database, start_process
    from configurable_agents.storage.migrations import upgrade_to_head

    settings = start_process("migrate")
    database = open_database(settings, "migrate", wait_for_schema=False)
    state = upgrade_to_head(database.engine, settings.ensure_data_dir())
    print(f"schema at {state.head}")
    return 0
