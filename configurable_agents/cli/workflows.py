"""`configurable-agents validate` and `graph`: read a workflow file, run nothing.

Exit codes: 0 the file is valid, 2 it is not (or cannot be read).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from configurable_agents.cli._shared import AddCommand

EXIT_OK, EXIT_INVALID = 0, 2


def register(add: AddCommand) -> None:
    """Add `validate` and `graph` to the parser."""
    validate = add(
        "validate", cmd_validate, "check a workflow file; exit 2 with file:line:col errors"
    )
    validate.add_argument("file")
    graph = add("graph", cmd_graph, "print a workflow's graph as Mermaid")
    graph.add_argument("file")


def cmd_validate(args: argparse.Namespace) -> int:
    """Check the workflow file named on the command line."""
    return validate_file(args.file)


def validate_file(path: str | Path) -> int:
    """Print ``ok: <name> (N nodes)`` and return 0, or print one ``file:line:col: path:
    message`` line per problem to stderr and return 2."""
    from configurable_agents.config.errors import ConfigError
    from configurable_agents.config.loader import load_config

    try:
        config = load_config(Path(path))
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return EXIT_INVALID
    count = len(config.nodes)
    print(f"ok: {config.name} ({count} node{'s' if count != 1 else ''})")
    return EXIT_OK


def cmd_graph(args: argparse.Namespace) -> int:
    """Print the workflow's graph as a Mermaid flowchart."""
    from configurable_agents.config import ConfigError, load_config, to_mermaid

    path: str = args.file
    try:
        config = load_config(Path(path))
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        print(f"{path}: {error.strerror}", file=sys.stderr)
        return EXIT_INVALID
    print(to_mermaid(config))
    return EXIT_OK
