"""The parser and the dispatch: each command group adds its own sub-commands.

The groups are added in the order `--help` lists them; see the package docstring for why
nothing heavy is imported here.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from configurable_agents import __version__
from configurable_agents.cli import (
    agents,
    experiments,
    keys,
    mcp,
    release,
    runs,
    service,
    status,
    workflows,
)
from configurable_agents.cli._shared import Command

GROUPS = (release, status, workflows, runs, experiments, agents, keys, mcp, service)


def build_parser() -> argparse.ArgumentParser:
    """The `configurable-agents` parser with every group's sub-commands."""
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

    for group in GROUPS:
        group.register(add)
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
