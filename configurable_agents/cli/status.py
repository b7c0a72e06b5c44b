"""`configurable-agents status`: the health of the service set, runs and workers.

Exit codes: 0 every service and the database healthy, 1 otherwise.
"""

from __future__ import annotations

import argparse

from configurable_agents.cli._shared import AddCommand


def register(add: AddCommand) -> None:
    """Add `status` to the parser."""
    status = add("status", cmd_status, "show the health of the service set, runs and workers")
    status.add_argument("--json", action="store_true", help="print the snapshot as JSON")


def cmd_status(args: argparse.Namespace) -> int:
    """Print the status snapshot as a table, or as JSON with --json."""
    from configurable_agents.settings import load_settings_or_exit
    from configurable_agents.status.terminal import print_status

    return print_status(load_settings_or_exit("status"), as_json=args.json)
