"""The real service set under honcho, as a user starts it: shared by the e2e tests and benchmarks.

Nothing here imports pytest, so `benchmarks/startup.py` can drive the same code.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from configurable_agents.settings import Settings
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
PROCFILE = REPO / "Procfile"
EXAMPLES_DIR = REPO / "examples"
# The venv running the tests: its bin goes first on PATH, as `make start` does.
BIN = Path(sys.executable).parent
# Seconds honcho may take to stop the set after SIGINT (the bound).
STOP_SECONDS = 15.0
# The set takes about 15 s (MLflow is the slowest); this only bounds a hang.
START_SECONDS = 120.0
# Processes that print their own "<name> ready at <url>" line.
READY_PROCESSES = ("dashboard", "chat")
HONCHO_LINE = re.compile(r"^\d\d:\d\d:\d\d (?P<process>[\w-]+?)(?:\.\d+)?\s+\| (?P<text>.*)$")


def settings_environment(data_dir: Path, **overrides: str) -> dict[str, str]:
    """Every setting given explicitly (so no `.env` can leak in), on free ports, data in data_dir."""
    values: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        # None means "derive it" (e.g. WORKSPACE_DIR); the empty value says the same.
        shown = (
            "" if default is None else default.value if isinstance(default, enum.Enum) else default
        )
        values[name.upper()] = str(shown)
    values.update(
        DATA_DIR=str(data_dir),
        DASHBOARD_PORT=str(free_port()),
        CHAT_PORT=str(free_port()),
        MLFLOW_PORT=str(free_port()),
        # The status stream ticks faster so state changes show up quickly in the tests.
        STATUS_TICK_SECONDS="0.5",
    )
    values.update(overrides)
    return values


def process_environment(settings_env: dict[str, str]) -> dict[str, str]:
    """The OS environment minus any setting inherited from the caller, plus the given settings."""
    names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    # A wide terminal for `configurable-agents status` so rich does not wrap the table.
    env["COLUMNS"] = "200"
    env.update(settings_env)
    return env


def write_env_file(path: Path, settings_env: dict[str, str]) -> Path:
    """An env file for `honcho -e` (the repo's own `.env` must never be read)."""
    path.write_text("".join(f"{key}={value}\n" for key, value in settings_env.items()))
    return path


def honcho_command(env_file: Path, processes: Sequence[str] = ()) -> list[str]:
    """`honcho start` on the repo's Procfile with the given env file."""
    return [
        str(BIN / "honcho"),
        "start",
        "-f",
        str(PROCFILE),
        "-d",
        str(REPO),
        "-e",
        str(env_file),
        *processes,
    ]


def procfile_commands() -> dict[str, str]:
    """name -> command of each Procfile line (without the shell's `exec`)."""
    commands = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = command.strip().removeprefix("exec ")
    return commands


def health_urls(
    settings_env: dict[str, str], services: Iterable[str] | None = None
) -> dict[str, str]:
    """The health URL of each web service of the set."""
    urls = {
        "dashboard": f"http://127.0.0.1:{settings_env['DASHBOARD_PORT']}/healthz",
        "chat": f"http://127.0.0.1:{settings_env['CHAT_PORT']}/healthz",
        "mlflow": f"http://127.0.0.1:{settings_env['MLFLOW_PORT']}/health",
    }
    return {name: urls[name] for name in (services or urls)}


def answers_ok(url: str) -> bool:
    """True when GET url answers 200."""
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def process_output_lines(output: str, process: str) -> list[str]:
    """The text of each honcho output line printed by one process (e.g. "dashboard")."""
    lines = []
    for line in output.splitlines():
        match = HONCHO_LINE.match(line)
        if match and match["process"] == process:
            lines.append(match["text"])
    return lines


def alive(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """The processes still running (zombies count as gone: they hold nothing)."""
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            continue
    return running


def processes_using(data_dir: Path) -> list[psutil.Process]:
    """Every live process started with DATA_DIR=data_dir: what a set would leave behind."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("DATA_DIR") == str(data_dir):
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return alive(found)


def left_behind(data_dir: Path, timeout: float = STOP_SECONDS) -> list[psutil.Process]:
    """Processes of a stopped set still running after ``timeout`` seconds of grace."""
    processes = processes_using(data_dir)
    psutil.wait_procs(processes, timeout=timeout)
    return alive(processes)


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(processes: Iterable[psutil.Process]) -> int:
    """Resident memory of the given processes, in bytes."""
    total = 0
    for process in alive(processes):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def kill_all(processes: Iterable[psutil.Process]) -> None:
    """Last resort after a failed check, so one broken test does not leak into the next."""
    for process in alive(processes):
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue


@dataclass
class Stopped:
    """How a set stopped: honcho's exit code and whatever was still running afterwards."""

    returncode: int | None
    left_behind: list[psutil.Process] = field(default_factory=list)


@dataclass
class ServiceSet:
    """A running `honcho start`: its settings, its output file and its process tree."""

    settings_env: dict[str, str]
    log_path: Path
    pid: int
    # Every process seen in the tree (MLflow forks its web worker later, so we keep adding).
    seen: dict[int, psutil.Process] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(self.settings_env["DATA_DIR"])

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.settings_env[f'{service.upper()}_PORT']}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def honcho_running(self) -> bool:
        return bool(alive([self.honcho]))

    @property
    def honcho(self) -> psutil.Process:
        return self.seen.get(self.pid) or self.remember()[0]

    def remember(self) -> list[psutil.Process]:
        """Record the current process tree (so orphans can still be checked after the stop)."""
        tree = process_tree(self.pid)
        for process in tree:
            self.seen.setdefault(process.pid, process)
        return tree

    def healthy(self, services: Iterable[str] | None = None) -> bool:
        """Whether every named web service (all by default) answers its health URL with 200."""
        return all(answers_ok(url) for url in health_urls(self.settings_env, services).values())

    def wait_healthy(
        self, services: Iterable[str] | None = None, timeout: float = START_SECONDS
    ) -> None:
        """Poll the health URLs; fail with the output when honcho stops or time runs out."""
        deadline = time.monotonic() + timeout
        while not self.healthy(services):
            if not self.honcho_running():
                raise RuntimeError(f"stopped before it was healthy:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the set was not healthy after {timeout} s:\n{self.output()}")
            time.sleep(0.2)
        self.remember()

    def wait_for_output(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first match of a regex in the output, waiting for it to be printed."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.output(), re.MULTILINE)
            if match:
                return match
            if time.monotonic() > deadline or not self.honcho_running():
                raise AssertionError(f"{pattern!r} never printed; output:\n{self.output()}")
            time.sleep(0.2)

    def stop(self, timeout: float = STOP_SECONDS) -> Stopped:
        """SIGINT to honcho (Ctrl+C), then what is left of the tree after ``timeout`` seconds."""
        tree = [*self.seen.values(), *self.remember()]
        if not self.honcho_running():
            return Stopped(returncode=None, left_behind=alive(tree))
        os.kill(self.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        returncode: int | None = None
        with contextlib.suppress(psutil.TimeoutExpired):
            returncode = self.honcho.wait(timeout)
        # Children honcho lost track of may still be exiting: give them the rest of the bound.
        psutil.wait_procs(tree, timeout=max(0.0, deadline - time.monotonic()))
        remaining = max(0.0, deadline - time.monotonic())
        left = {p.pid: p for p in [*alive(tree), *left_behind(self.data_dir, remaining)]}
        return Stopped(returncode=returncode, left_behind=list(left.values()))


def run_until_exit(
    command: Sequence[str], env: dict[str, str], timeout: float = START_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run a command that is expected to stop by itself; on a hang kill its tree and fail."""
    process = subprocess.Popen(
        command,
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_all(process_tree(process.pid))
        output, _ = process.communicate()
        raise AssertionError(f"{command} did not stop within {timeout} s:\n{output}") from None
    return subprocess.CompletedProcess(command, process.returncode, output, "")


def example_names(directory: Path = EXAMPLES_DIR) -> list[str]:
    """The `name` of every example workflow file, read independently of the release code."""
    import yaml

    return sorted(yaml.safe_load(path.read_text())["name"] for path in directory.glob("*.yaml"))


def stored_workflows(database_url: str) -> list[tuple[str, int]]:
    """(name, number of versions) of every workflow stored in the app database, by name."""
    from sqlalchemy import create_engine, text

    from configurable_agents.settings import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT w.name, count(v.id) FROM workflows w "
                    "LEFT JOIN workflow_versions v ON v.workflow_id = w.id "
                    "GROUP BY w.id, w.name ORDER BY w.name"
                )
            ).all()
    finally:
        engine.dispose()
    return [(name, versions) for name, versions in rows]


def app_database_url(settings_env: dict[str, str]) -> str:
    """DATABASE_URL, or the default SQLite file in DATA_DIR."""
    return settings_env.get("DATABASE_URL") or (
        f"sqlite:///{Path(settings_env['DATA_DIR']) / 'configurable_agents.db'}"
    )
