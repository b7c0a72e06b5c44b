"""What a user sees when the set cannot start: one line naming the cause, never a traceback."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.serviceset import (
    app_database_url,
    example_names,
    honcho_command,
    left_behind,
    process_environment,
    process_output_lines,
    procfile_commands,
    run_until_exit,
    settings_environment,
    stored_workflows,
    write_env_file,
)

pytestmark = pytest.mark.e2e

PROCFILE = procfile_commands()
# The processes that open the app database at start (MLflow has its own store).
DATABASE_PROCESSES = ("release", "dashboard", "chat", "worker")
# The release step without `--stay`: migrate, seed, exit.
RELEASE_ONCE = [arg for arg in shlex.split(PROCFILE["release"]) if arg != "--stay"]


def run_process(name: str, settings_env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run one Procfile process alone, as honcho would, until it stops by itself."""
    return run_until_exit(
        shlex.split(PROCFILE[name]), process_environment(settings_env), timeout=60
    )


def output_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.strip()]


def assert_one_line_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    """A non-zero exit with exactly one output line that contains every expected text."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout, result.stdout
    lines = output_lines(result)
    assert len(lines) == 1, f"expected one line, got:\n{result.stdout}"
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def run_set_until_exit(settings_env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """`honcho start` on the whole Procfile, expected to stop by itself."""
    env_file = write_env_file(tmp_path / "set.env", settings_env)
    result = run_until_exit(honcho_command(env_file), process_environment(settings_env))
    assert left_behind(Path(settings_env["DATA_DIR"])) == [], "processes left behind"
    return result


@pytest.fixture
def occupied_port() -> Iterator[tuple[socket.socket, int]]:
    """A port some other program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock, sock.getsockname()[1]


@pytest.mark.parametrize(
    ("process", "setting"),
    [("dashboard", "DASHBOARD_PORT"), ("chat", "CHAT_PORT"), ("mlflow", "MLFLOW_PORT")],
)
def test_a_port_in_use_stops_the_set_naming_the_process_and_port(
    process: str,
    setting: str,
    occupied_port: tuple[socket.socket, int],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    _, port = occupied_port
    settings_env = settings_environment(data_dir, **{setting: str(port)})

    result = run_set_until_exit(settings_env, tmp_path)

    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout, result.stdout
    complaints = [
        text
        for text in process_output_lines(result.stdout, process)
        if f"port {port}" in text and "already in use" in text
    ]
    assert len(complaints) == 1, result.stdout
    assert complaints[0].startswith(f"{process}: ") and setting in complaints[0]
    # The whole set stopped because of it.
    for name in PROCFILE:
        assert re.search(rf"^.*system\s+\| {name}\.1 stopped", result.stdout, re.M), name
    # Whatever the release had done when it was stopped, the next start can carry on.
    release = run_until_exit(RELEASE_ONCE, process_environment(settings_env))
    assert release.returncode == 0, release.stdout
    assert stored_workflows(app_database_url(settings_env)) == [(n, 1) for n in example_names()]


@pytest.mark.parametrize("process", list(PROCFILE))
@pytest.mark.parametrize(
    ("setting", "value"), [("DASHBOARD_PORT", "abc"), ("LLM_PROVIDER", "nonsense")]
)
def test_a_wrong_setting_stops_the_process_with_one_line_naming_it(
    process: str, setting: str, value: str, data_dir: Path
) -> None:
    result = run_process(process, settings_environment(data_dir, **{setting: value}))

    assert result.returncode == 2, result.stdout
    line = assert_one_line_error(result, setting, repr(value))
    assert line.startswith(f"{process}: invalid setting"), line


def test_a_wrong_setting_stops_the_whole_set(data_dir: Path, tmp_path: Path) -> None:
    result = run_set_until_exit(settings_environment(data_dir, DASHBOARD_PORT="abc"), tmp_path)

    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stdout, result.stdout
    # Every process reads the settings: the first to fail stops the set, with its line shown.
    complaints = [
        text
        for process in PROCFILE
        for text in process_output_lines(result.stdout, process)
        if text.startswith(f"{process}: invalid setting DASHBOARD_PORT")
    ]
    assert complaints, result.stdout


@pytest.mark.parametrize("process", DATABASE_PROCESSES)
def test_an_unreachable_database_is_a_one_line_error(process: str, data_dir: Path) -> None:
    settings_env = settings_environment(
        data_dir,
        DATABASE_URL="postgresql://postgres:s3cret-pw@127.0.0.1:1/x",
        DATABASE_CONNECT_TIMEOUT="1",
    )

    result = run_process(process, settings_env)

    line = assert_one_line_error(result, "database unreachable", "127.0.0.1:1", "DATABASE_URL")
    assert "s3cret-pw" not in result.stdout, "the password must never be shown"
    assert line.startswith(f"{process}: "), line


@pytest.mark.parametrize("process", ["dashboard", "chat", "worker"])
def test_a_schema_behind_head_without_a_release_says_to_migrate(
    process: str, data_dir: Path
) -> None:
    result = run_process(process, settings_environment(data_dir, RELEASE_WAIT_SECONDS="1"))

    line = assert_one_line_error(result, "run `configurable-agents migrate`")
    assert line.startswith(f"{process}: "), line
    assert "empty" in line, "the line says where the schema stands"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_releases_at_once_both_succeed_and_seed_once(
    database: str, data_dir: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else ""
    settings_env = settings_environment(data_dir, DATABASE_URL=url)
    env = process_environment(settings_env)
    releases = [
        subprocess.Popen(
            RELEASE_ONCE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [release.communicate(timeout=120)[0] for release in releases]

    assert [release.returncode for release in releases] == [0, 0], "\n".join(outputs)
    names = example_names()
    assert stored_workflows(app_database_url(settings_env)) == [(name, 1) for name in names]
    seeded = sorted(
        int(re.search(r"seeded (\d+) example", output).group(1))  # type: ignore[union-attr]
        for output in outputs
    )
    assert seeded == [0, len(names)], "\n".join(outputs)
