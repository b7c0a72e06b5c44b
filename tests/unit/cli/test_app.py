"""The parser: every command group's sub-commands, in order, built without heavy imports."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from configurable_agents.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[3]

COMMANDS = [
    "release",
    "migrate",
    "status",
    "validate",
    "graph",
    "run",
    "resume",
    "approve",
    "runs",
    "show",
    "experiment",
    "agents",
    "keys",
    "mcp",
    "mlflow-server",
    "worker",
]

# Each of these takes from tenths of a second to seconds to import; `--help` and `status`
# must stay under 0.5 s, so building the parser may load none of them.
HEAVY = {
    "sqlalchemy",
    "alembic",
    "rich",
    "pydantic",
    "pydantic_settings",
    "yaml",
    "langgraph",
    "langchain_core",
    "mlflow",
    "huey",
    "redis",
    "httpx",
    "fastapi",
    "starlette",
    "jinja2",
    "psutil",
    "mcp",
}


def test_help_lists_every_command_in_order() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(commands.choices) == COMMANDS


def test_no_command_prints_help_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_building_the_parser_imports_nothing_heavy() -> None:
    probe = (
        "import json, sys\n"
        "from configurable_agents.cli import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout))
    assert {name.split(".")[0] for name in loaded} & HEAVY == set()
    outside_cli = {
        name
        for name in loaded
        if name.startswith("configurable_agents.")
        and not name.startswith("configurable_agents.cli")
    }
    assert outside_cli == set()


def test_python_dash_m_is_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "configurable_agents", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: configurable-agents ")
