"""Experiments in MLflow: each experiment an MLflow experiment, each variant an MLflow run
with its params (the overrides) and the scorers' aggregate metrics, the per-row table as
an artifact. Sent in a background thread once the experiment finishes: never blocking.

``send_experiment`` is the one function that talks to MLflow (so it can move onto a
delivery outbox later); ``send_in_background`` runs it off the caller's path.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.experiments.report import report
from configurable_agents.experiments.row_comparison import row_outputs
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import experiments
from configurable_agents.tracking.mlflow_logger import client_for, reachable

log = logging.getLogger(__name__)
EXPERIMENT_PREFIX = "experiment:"
_threads: list[threading.Thread] = []


def payload(session: Session, experiment_id: int) -> dict[str, Any]:
    """What MLflow gets: per variant its params, metrics and per-row table."""
    found = report(session, experiment_id)
    experiment = experiments.get(session, experiment_id)
    baseline = found.baseline
    variants = []
    for variant in experiment.variants:
        stats = next(s for s in found.variants if s.name == variant.name)
        metrics: dict[str, float] = {}
        for scorer, interval in stats.scorers.items():
            if interval is not None:
                metrics[f"{scorer}_mean"] = interval.mean
                metrics[f"{scorer}_ci_low"] = interval.low
                metrics[f"{scorer}_ci_high"] = interval.high
        for name in ("pass_rate", "latency_mean_ms", "latency_p95_ms", "cost_per_row"):
            value = getattr(stats, name)
            if value is not None:
                metrics[name] = float(value)
        metrics["cost_total"], metrics["judge_cost"] = stats.cost_total, stats.judge_cost
        rows = [
            {
                "row": pair.row,
                "inputs": pair.inputs,
                "expected": pair.expected,
                "cells": [vars(cell) for cell in pair.a],
            }
            for pair in row_outputs(session, experiment_id, variant.name, baseline)
        ]
        variants.append(
            {
                "name": variant.name,
                "params": {
                    "overrides": json.dumps(variant.overrides, sort_keys=True),
                    "repeats": str(experiment.repeats),
                },
                "metrics": metrics,
                "rows": rows,
            }
        )
    return {"experiment": experiment.name, "id": experiment_id, "variants": variants}


def send_experiment(tracking_uri: str, data: dict[str, Any]) -> str:
    """Log one experiment's payload to MLflow (blocking); the MLflow experiment id."""
    if not reachable(tracking_uri):
        # Probed first: the MLflow client would retry a down server for minutes.
        raise ConnectionError(f"MLflow unreachable at {tracking_uri}")
    client = client_for(tracking_uri)
    name = f"{EXPERIMENT_PREFIX}{data['experiment']}"
    found = client.get_experiment_by_name(name)
    mlflow_experiment = found.experiment_id if found else client.create_experiment(name)
    for variant in data["variants"]:
        run = client.create_run(
            mlflow_experiment,
            run_name=variant["name"],
            tags={"configurable_agents.experiment_id": str(data["id"]), "variant": variant["name"]},
        )
        run_id = run.info.run_id
        for key, value in variant["params"].items():
            client.log_param(run_id, key, value[:6000])
        for key, value in variant["metrics"].items():
            client.log_metric(run_id, key, float(value))
        client.log_dict(run_id, {"rows": variant["rows"]}, "rows.json")
        client.set_terminated(run_id, status="FINISHED")
    return str(mlflow_experiment)


def send_in_background(
    settings: Settings, session_factory: sessionmaker[Session], experiment_id: int
) -> threading.Thread | None:
    """Send the finished experiment to MLflow off the caller's path; records the outcome
    on the experiment (``mlflow_status``). None when tracking is off."""
    if not settings.tracking_enabled:
        return None

    def work() -> None:
        try:
            with session_factory() as session:
                data = payload(session, experiment_id)
            status = f"logged: {send_experiment(settings.effective_mlflow_tracking_uri, data)}"
        except Exception as error:  # MLflow down: say so, never raise
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            status = f"skipped: {type(error).__name__}: {first[:300]}"
        try:
            with session_scope(session_factory) as session:
                experiments.get(session, experiment_id).mlflow_status = status
        except Exception:
            log.exception("could not record the MLflow status of experiment %s", experiment_id)

    thread = threading.Thread(target=work, name=f"mlflow-experiment-{experiment_id}", daemon=True)
    thread.start()
    _threads.append(thread)
    return thread


def wait_for_sending(timeout: float = 10.0) -> None:
    """Wait (bounded) for the background sends of this process (the CLI before it exits)."""
    for thread in list(_threads):
        thread.join(timeout)
