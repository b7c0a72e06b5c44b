"""`configurable-agents mlflow-server` and `worker`: long-running processes of the set.

The Procfile starts each with `python -m configurable_agents ...`; each runs until stopped.
"""

from __future__ import annotations

import argparse

from configurable_agents.cli._shared import AddCommand


def register(add: AddCommand) -> None:
    """Add `mlflow-server` and `worker` to the parser."""
    add("mlflow-server", cmd_mlflow_server, "run this set's MLflow tracking server")
    add("worker", cmd_worker, "run a worker that executes queued workflow runs")


def cmd_mlflow_server(args: argparse.Namespace) -> int:
    """Run the set's MLflow tracking server until stopped."""
    from configurable_agents.tracking.server import run_mlflow_server

    return run_mlflow_server()


def cmd_worker(args: argparse.Namespace) -> int:
    """Execute queued runs until stopped."""
    from configurable_agents.queue.worker import run_worker

    return run_worker()
