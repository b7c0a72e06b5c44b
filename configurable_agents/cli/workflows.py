"""`configurable-agents validate` and `graph`: read a workflow file, run nothing.

Exit codes: 0 the file is valid, 2 it is not (or cannot be read).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from configurable_agents.cli._shared import AddCommand

EXIT_OK, EXIT_INVALID = 0, 2


def register(add: AddCommand) -> None:
    """Add `validate` and `graph` to the parser."""
    validate = add(
        "validate", cmd_validate, "check a workflow file; exit 2 with file:line:col errors"
    )
    validate.add_argument("file")
    validate.add_argument(
        "--offline",
        action="store_true",
        help="do not reach the MCP servers the workflow calls (their tools go unchecked)",
    )
    graph = add("graph", cmd_graph, "print a workflow's graph as Mermaid")
    graph.add_argument("file")


def cmd_validate(args: argparse.Namespace) -> int:
    """Check the workflow file named on the command line."""
    return validate_file(args.file, offline=args.offline)


def validate_file(path: str | Path, *, offline: bool = False) -> int:
    """Print ``ok: <name> (N nodes)`` and return 0, or print one ``file:line:col: path:
    message`` line per problem to stderr and return 2. Unless ``offline``, the MCP servers
    the workflow's tool nodes call are asked whether they are reachable and have the tools."""
    from configurable_agents.bootstrap import start_process
    from configurable_agents.config.errors import ConfigError
    from configurable_agents.config.loader import load_config

    start_process("validate")  # MCP_SERVERS_FILE's servers are known to the checks
    try:
        config = load_config(Path(path))
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return EXIT_INVALID
    if not offline and _mcp_problems(Path(path), config):
        return EXIT_INVALID
    if not offline and _tool_problems(Path(path), config):
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


def _tool_problems(path: Path, config: Any) -> bool:
    """Print the tools of tool-using llm nodes that do not exist: stored workflows and
    remote agents (asked of the database), MCP servers' tools (asked of the servers)."""
    refs = [ref for node in config.nodes for ref in getattr(node, "tools", None) or []]
    if not any(ref.workflow or ref.agent or ref.mcp for ref in refs):
        return False
    import os

    from configurable_agents.cli._shared import open_migrated_database
    from configurable_agents.config.loader import located_issues
    from configurable_agents.config.mcp import server_named
    from configurable_agents.engine.tool_catalog import check_tool_refs
    from configurable_agents.mcp.errors import McpError
    from configurable_agents.mcp.pool import McpPool

    database = None
    if any(ref.workflow or ref.agent for ref in refs):
        _, database = open_migrated_database("validate")
    pool = McpPool()

    def mcp_tools(name: str) -> set[str] | str:
        server = server_named(name, config.mcp_servers)
        if server is None:
            return f"unknown MCP server '{name}'"
        try:
            return {tool.name for tool in pool.list_tools(name, server, env=os.environ)}
        except McpError as error:
            return str(error)

    try:
        findings = check_tool_refs(
            config, database.session_factory if database else None, mcp_tools
        )
    finally:
        pool.close()
        if database is not None:
            database.engine.dispose()
    text = path.read_text(encoding="utf-8-sig")
    for issue in located_issues(text, str(path), findings):
        print(issue, file=sys.stderr)
    return bool(findings)


def _mcp_problems(path: Path, config: Any) -> bool:
    """Print what the MCP servers say is wrong with the workflow's MCP tool nodes."""
    from configurable_agents.config.schema import McpToolNode

    if not any(isinstance(node, McpToolNode) for node in config.nodes):
        return False
    import os

    from configurable_agents.config.loader import located_issues
    from configurable_agents.mcp.checks import check_mcp_tools
    from configurable_agents.mcp.pool import McpPool

    pool = McpPool()
    try:
        findings = check_mcp_tools(config, pool, os.environ)
    finally:
        pool.close()
    text = path.read_text(encoding="utf-8-sig")
    for issue in located_issues(text, str(path), findings):
        print(issue, file=sys.stderr)
    return bool(findings)
