"""The CLI as a user runs it, in its own process: the environment pointing it at the
scripted LLM server, one command run to its end, a run started in the background and
killed with SIGKILL mid-run, and the steps it stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.fakes import FakeLLMServer

# How long a run may take to reach the request it is to be killed at.
REACH_SECONDS = 60


def cli_env(data_dir: Path, server: FakeLLMServer) -> dict[str, str]:
    """This process's environment with a SQLite data folder and the scripted server."""
    env = dict(os.environ)
    env.update(
        DATA_DIR=str(data_dir),
        LLM_PROVIDER="openai",
        LLM_MODEL="fake-model",
        LLM_BASE_URL=server.base_url,
        TRACKING_ENABLED="false",
    )
    env.pop("DATABASE_URL", None)
    return env


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m configurable_agents ARGS`, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "configurable_agents", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`python -m configurable_agents run ARGS`, left running."""
    return subprocess.Popen(
        [sys.executable, "-m", "configurable_agents", "run", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at_request(
    process: subprocess.Popen[str], server: FakeLLMServer, count: int, what: str
) -> None:
    """SIGKILL the process once the server has had ``count`` requests (``what`` names
    that point in the failure message)."""
    deadline = time.monotonic() + REACH_SECONDS
    while len(server.requests) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.requests) == count, f"the run never reached {what}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def latest_run_id(env: dict[str, str], cwd: Path) -> str:
    """The id of the newest run, as `runs --json` lists it."""
    return json.loads(cli("runs", "--json", env=env, cwd=cwd).stdout)[0]["run_id"]


def resume_latest(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`resume --json` of the newest run, run to its end."""
    return cli("resume", latest_run_id(env, cwd), "--json", env=env, cwd=cwd)


def stored_steps(data_dir: Path, key: str) -> list[tuple[str, str, int]]:
    """(``key`` column, state, attempt) of every stored step in order; none when the
    database cannot be read."""
    engine = create_engine(f"sqlite:///{data_dir / 'configurable_agents.db'}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(f"SELECT {key}, state, attempt FROM run_steps ORDER BY seq")
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]
    except Exception:
        return []
    finally:
        engine.dispose()
