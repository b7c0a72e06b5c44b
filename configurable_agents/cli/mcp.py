"""`configurable-agents mcp ...`: the Model Context Protocol both ways.

- ``mcp tools SERVER [--file WORKFLOW]``: list a server's tools (name, description, input
  schema); the server is declared in the workflow file, else in MCP_SERVERS_FILE.
- ``mcp serve``: every stored workflow as an MCP tool over stdio, for desktop MCP clients.
  ``--runs queue`` hands each run to the workers; ``--runs here`` executes it in this
  process; ``--runs auto`` (the default) does the first when a worker is alive, else the
  second, so `mcp serve` works with or without the rest of the set running.

Exit codes: 0 done, 1 the server cannot be reached, 2 bad input (unknown server, bad file).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from configurable_agents.cli._shared import AddCommand, print_json

EXIT_OK, EXIT_UNAVAILABLE, EXIT_INVALID = 0, 1, 2


def register(add: AddCommand) -> None:
    """Add `mcp` and its actions `tools` and `serve` to the parser."""
    mcp = add("mcp", cmd_mcp, "MCP: list an MCP server's tools, or serve the workflows as tools")
    actions = mcp.add_subparsers(dest="mcp_action", metavar="ACTION")
    tools = actions.add_parser("tools", help="list the tools of an MCP server")
    tools.add_argument("server", help="a server name (declared in --file or MCP_SERVERS_FILE)")
    tools.add_argument("--file", help="a workflow file whose mcp_servers declare the server")
    tools.add_argument("--json", action="store_true", help="print the tools as JSON")
    serve = actions.add_parser("serve", help="serve every stored workflow as an MCP tool (stdio)")
    serve.add_argument(
        "--runs",
        choices=("auto", "queue", "here"),
        default="auto",
        help="where runs execute: the workers (queue), this process (here), or queue when a "
        "worker is alive (auto)",
    )


def cmd_mcp(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    action = getattr(args, "mcp_action", None)
    if action == "tools":
        return cmd_tools(args.server, args.file, as_json=args.json)
    if action == "serve":
        return cmd_serve(args.runs)
    print("configurable-agents mcp: choose an action: tools SERVER, or serve", file=sys.stderr)
    return EXIT_INVALID


def cmd_tools(name: str, file: str | None, *, as_json: bool) -> int:
    """List the server's tools."""
    import json
    import os

    from configurable_agents.bootstrap import start_process
    from configurable_agents.config.errors import ConfigError
    from configurable_agents.config.loader import load_config
    from configurable_agents.config.mcp import server_named, shared_servers
    from configurable_agents.mcp.errors import McpError
    from configurable_agents.mcp.pool import McpPool

    start_process("mcp")
    declared: dict[str, Any] = {}
    if file:
        try:
            declared = dict(load_config(Path(file)).mcp_servers)
        except ConfigError as error:
            print(str(error), file=sys.stderr)
            return EXIT_INVALID
    server = server_named(name, declared)
    if server is None:
        known = sorted({*declared, *shared_servers()})
        where = f"in {file} or MCP_SERVERS_FILE" if file else "in MCP_SERVERS_FILE (or pass --file)"
        print(
            f"unknown MCP server '{name}': not declared {where}; known: {', '.join(known) or 'none'}",
            file=sys.stderr,
        )
        return EXIT_INVALID
    pool = McpPool()
    try:
        tools = pool.list_tools(name, server, env=os.environ)
    except McpError as error:
        print(str(error), file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        pool.close()
    if as_json:
        print_json(
            [
                {
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                    "output_schema": tool.output_schema,
                }
                for tool in tools
            ],
            sys.stdout,
        )
        return EXIT_OK
    for tool in sorted(tools, key=lambda tool: tool.name):
        print(f"{tool.name}: {tool.description}".rstrip(": "))
        print(f"  input: {json.dumps(tool.input_schema, ensure_ascii=False)}")
    return EXIT_OK


def cmd_serve(runs: str) -> int:
    """Serve the workflows over stdio until the client closes the connection."""
    import anyio
    from mcp.server.stdio import stdio_server

    from configurable_agents.cli._shared import open_migrated_database
    from configurable_agents.mcp.local_runs import RunStarter
    from configurable_agents.mcp.server import WorkflowTools, build_server

    # Standard output is the protocol's wire: nothing said while starting may land there.
    with contextlib.redirect_stdout(sys.stderr):
        settings, database = open_migrated_database("mcp serve")
    with RunStarter(settings, database.session_factory, mode=runs) as starter:
        tools = WorkflowTools(settings, database.session_factory, start=starter.start)
        server = build_server(tools)
        print(
            f"mcp serve: workflows as MCP tools over stdio ({starter.describe()})", file=sys.stderr
        )

        async def serve() -> None:
            # The SDK diverts anything else printed to standard output to standard error.
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())

        anyio.run(serve)
    database.engine.dispose()
    return EXIT_OK
