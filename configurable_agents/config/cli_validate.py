"""`configurable-agents validate FILE`: check a workflow file without running anything."""

from __future__ import annotations

import sys
from pathlib import Path

from configurable_agents.config.errors import ConfigError
from configurable_agents.config.loader import load_config

EXIT_INVALID = 2


def validate_file(path: str | Path) -> int:
    """Print ``ok: <name> (N nodes)`` and return 0, or print one ``file:line:col: path:
    message`` line per problem to stderr and return 2."""
    try:
        config = load_config(Path(path))
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return EXIT_INVALID
    count = len(config.nodes)
    print(f"ok: {config.name} ({count} node{'s' if count != 1 else ''})")
    return 0
