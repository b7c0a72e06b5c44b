"""`configurable-agents run --json` writes only JSON on standard output (issue 12).

A real MLflow server is up and tracking is on, as when the bug was found (MLflow printed its
"View run" lines on standard output before the JSON). Each outcome (completed, failed,
invalid input, awaiting approval) is parsed from standard output with json.loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.mlflow_server import running_mlflow

ROOT = Path(__file__).resolve().parents[3]

CALCULATE = """\
schema_version: 1
name: json-calc
description: Multiply two numbers (no LLM).
state:
  a: {type: float, required: true}
  b: {type: float, required: true}
  product: {type: float}
nodes:
  - id: multiply
    kind: tool
    tool: calculator
    args: {expression: "a * b / (b - 2)"}
    output: product
edges:
  - {from: START, to: multiply}
  - {from: multiply, to: END}
"""

APPROVE = """\
schema_version: 1
name: json-approve
description: Wait for a person, then compute.
state:
  a: {type: float, required: true}
  product: {type: float}
nodes:
  - id: ask
    kind: approval
    message: "Go on with {a}?"
  - id: multiply
    kind: tool
    tool: calculator
    args: {expression: "a * 2"}
    output: product
edges:
  - {from: START, to: ask}
  - {from: ask, to: multiply}
  - {from: multiply, to: END}
"""


@pytest.fixture(scope="module")
def mlflow_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    with running_mlflow(tmp_path_factory.mktemp("mlflow"), port):
        yield port


def run_json(tmp_path: Path, port: int, config: str, *inputs: str) -> tuple[int, Any, str]:
    """The command's exit code, its standard output parsed as JSON, and its stderr."""
    path = tmp_path / "workflow.yaml"
    path.write_text(config)
    # Only this test's tracking settings: nothing an earlier test left in the environment.
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "_MLFLOW_", "TRACKING_"))
    }
    env = {
        **inherited,
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(tmp_path / "var"),
        "MLFLOW_PORT": str(port),
        "TRACKING_ENABLED": "true",
    }
    env.pop("DATABASE_URL", None)
    args = [a for pair in inputs for a in ("-i", pair)]
    done = subprocess.run(
        [sys.executable, "-m", "configurable_agents", "run", str(path), "--json", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def test_completed_run(tmp_path: Path, mlflow_port: int) -> None:
    # Tracking waits at most 5 s at exit: a slow first call to a fresh server may miss it,
    # so run again (up to three times) until MLflow has had its say, always on stderr.
    for attempt in range(3):
        code, data, err = run_json(tmp_path, mlflow_port, CALCULATE, "a=3", f"b={4 + attempt}")
        assert code == 0, err
        assert data["state"] == "completed"
        assert data["outputs"]["product"] == 3 * (4 + attempt) / (2 + attempt)
        if "View run" in err:
            break
    assert "View run" in err
    assert data["tracking"]


def test_failed_run(tmp_path: Path, mlflow_port: int) -> None:
    code, data, err = run_json(tmp_path, mlflow_port, CALCULATE, "a=3", "b=2")
    assert code == 1, err
    assert data["state"] == "failed"
    assert data["error_message"]


def test_invalid_input(tmp_path: Path, mlflow_port: int) -> None:
    code, data, _ = run_json(tmp_path, mlflow_port, CALCULATE, "a=3", "b=four")
    assert code == 2
    assert data["state"] == "invalid"
    assert any("'b'" in error for error in data["errors"])


def test_invalid_config(tmp_path: Path, mlflow_port: int) -> None:
    code, data, _ = run_json(tmp_path, mlflow_port, CALCULATE.replace("tool: calc", "tool: \x08c"))
    assert code == 2
    assert data["state"] == "invalid"
    assert "workflow.yaml:11:" in data["errors"][0]


def test_awaiting_approval(tmp_path: Path, mlflow_port: int) -> None:
    code, data, err = run_json(tmp_path, mlflow_port, APPROVE, "a=5")
    assert code == 3, err
    assert data["state"] == "awaiting_approval"


def test_an_input_that_is_not_text_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates: exit 2, no database made."""
    path = tmp_path / "workflow.yaml"
    path.write_text(APPROVE.replace("a: {type: float", "a: {type: str").replace("a * 2", "2"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "configurable_agents", "run", str(path), "--json"),
            *("-i", b"a=x \xff".decode("utf-8", "surrogateescape")),
        ],
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    data = json.loads(done.stdout)
    assert data["state"] == "invalid"
    assert "lone surrogate" in data["errors"][0]
    assert not (tmp_path / "var" / "configurable_agents.db").exists()
