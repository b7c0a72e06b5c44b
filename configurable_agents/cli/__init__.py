"""`configurable-agents ...`: the command line, one module per command group.

- ``app``: the parser and the dispatch (``main``, the console script's entry point)
- ``release``: ``release``, ``migrate`` (bring the database to the code's schema)
- ``status``: ``status`` (health of the service set, runs and workers)
- ``workflows``: ``validate`` (asks the MCP servers a workflow calls, unless ``--offline``),
  ``graph`` (read a workflow file, run nothing)
- ``runs``: ``run``, ``resume``, ``approve``, ``runs``, ``show``
- ``agents``: ``agents`` and its actions ``register``, ``dispatch``, ``remove``
- ``mcp``: ``mcp tools SERVER`` (an MCP server's tools), ``mcp serve`` (the workflows as
  MCP tools over stdio)
- ``service``: ``mlflow-server``, ``worker`` (long-running processes of the set)
- ``progress``: the live view of a run in the terminal, used by ``runs``
- ``_shared``: what several groups share (command types, the database, ``NAME=VALUE`` inputs)

Why the imports sit inside the command functions: ``--help`` and ``status`` must answer
under 0.5 s, and SQLAlchemy, the engine, LangGraph, MLflow and rich together take seconds
to import. Building the parser imports every module of this package, so their tops import
only the standard library; each command imports what it needs when it runs. This is the
one package of the project that does so (tests/unit/cli/test_app.py keeps it that way).
"""

from configurable_agents.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
