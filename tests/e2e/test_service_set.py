"""The whole Procfile under honcho on SQLite: healthy, migrated, seeded once, stopped cleanly.

One set is shared by the module (MLflow alone takes about 10 s to get healthy); the last
tests stop it with SIGINT and start a second one on the same data.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from configurable_agents.storage.migrations import head_revision
from tests.e2e.conftest import Launcher
from tests.e2e.serviceset import (
    BIN,
    ServiceSet,
    Stopped,
    app_database_url,
    example_names,
    process_environment,
    process_output_lines,
    procfile_commands,
    settings_environment,
    stored_workflows,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def set_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("set") / "var"


@pytest.fixture(scope="module")
def first_set(module_launcher: Launcher, set_data_dir: Path) -> ServiceSet:
    """The set started on an empty data folder that does not exist yet."""
    service_set = module_launcher.start(settings_environment(set_data_dir))
    service_set.wait_healthy()
    return service_set


def assert_healthy_at_head(service_set: ServiceSet) -> None:
    """Every /healthz says ok with the schema at the code's head; MLflow's /health is OK."""
    for service in ("dashboard", "chat"):
        response = httpx.get(f"{service_set.url(service)}/healthz", timeout=5)
        assert response.status_code == 200, (service, response.text)
        report = response.json()
        assert report["process"] == service
        assert report["status"] == "ok"
        # Anyone may ask: up or down per part, no process id, no database path.
        assert report["database"] == {"reachable": True}
        assert report["schema"] == {"at_head": True}
        assert "pid" not in report
    response = httpx.get(f"{service_set.url('mlflow')}/health", timeout=5)
    assert (response.status_code, response.text.strip()) == (200, "OK")


def assert_stopped_cleanly(stopped: Stopped, service_set: ServiceSet) -> None:
    assert stopped.returncode is not None, "honcho still running after SIGINT"
    assert stopped.left_behind == [], (
        "processes left behind after SIGINT:\n"
        + "\n".join(f"{p.pid} {' '.join(p.cmdline())}" for p in stopped.left_behind)
        + f"\n{service_set.output()}"
    )


def test_the_data_folder_is_created_and_every_service_is_healthy_at_head(
    first_set: ServiceSet, set_data_dir: Path
) -> None:
    assert set_data_dir.is_dir()
    assert (set_data_dir / "configurable_agents.db").is_file()
    assert (set_data_dir / "mlflow.db").is_file(), "MLflow must keep its own store"
    assert_healthy_at_head(first_set)


def test_the_examples_are_seeded_exactly_once(first_set: ServiceSet) -> None:
    names = example_names()
    assert names, "the repo ships example workflows"

    assert stored_workflows(app_database_url(first_set.settings_env)) == [
        (name, 1) for name in names
    ]
    [line] = [
        text
        for text in process_output_lines(first_set.output(), "release")
        if text.startswith("release: schema at")
    ]
    assert f"seeded {len(names)} example workflow(s), 0 already stored" in line


def test_each_process_prints_one_ready_line_with_its_url(first_set: ServiceSet) -> None:
    data_dir = first_set.data_dir
    expected = {
        "dashboard": rf"dashboard ready at {re.escape(first_set.url('dashboard'))}$",
        "chat": rf"chat ready at {re.escape(first_set.url('chat'))}$",
        "worker": rf"worker ready: .* consuming {re.escape(f'sqlite:///{data_dir}/queue.db')} ",
        "mlflow": rf"Uvicorn running on {re.escape(first_set.url('mlflow'))}",
        "release": rf"release: schema at {head_revision()};",
    }
    # The worker may print its line a moment after the web services answer.
    first_set.wait_for_output(r"worker\.1\s+\| worker ready")
    output = first_set.output()
    for process, pattern in expected.items():
        matching = [
            text for text in process_output_lines(output, process) if re.search(pattern, text)
        ]
        assert len(matching) == 1, f"{process}: expected one line like {pattern!r}:\n{output}"
    assert set(expected) == set(procfile_commands()), "every Procfile process is checked"


def test_status_command_lists_every_service_up(first_set: ServiceSet) -> None:
    env = process_environment(first_set.settings_env)
    command = [str(BIN / "configurable-agents"), "status"]

    text = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stdout + text.stderr
    for service in ("dashboard", "chat", "mlflow", "database"):
        assert re.search(rf"^\W*{service}\W+up\b", text.stdout, re.MULTILINE), text.stdout

    as_json = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    snapshot = json.loads(as_json.stdout)
    assert {s["name"]: s["healthy"] for s in snapshot["services"]} == {
        "dashboard": True,
        "chat": True,
        "mlflow": True,
    }
    assert snapshot["database"]["reachable"] is True
    assert snapshot["database"]["at_head"] is True


def test_sigint_stops_every_process_within_15_seconds(first_set: ServiceSet) -> None:
    tree = {p.pid: " ".join(p.cmdline()) for p in first_set.seen.values() if p.is_running()}
    # What each Procfile line runs (after `exec`): each is the process honcho started.
    expected = {name: command.split(" ", 1)[1] for name, command in procfile_commands().items()}
    for name, fragment in expected.items():
        assert any(fragment in line for line in tree.values()), (
            f"{name} was not running under honcho: {tree}"
        )

    stopped = first_set.stop()

    assert_stopped_cleanly(stopped, first_set)
    assert "SIGINT received" in first_set.output()


def test_a_second_start_on_the_same_data_duplicates_nothing(
    first_set: ServiceSet, launcher: Launcher, set_data_dir: Path
) -> None:
    first_set.stop()  # when this test runs alone, the first set is still up
    before = stored_workflows(app_database_url(first_set.settings_env))

    second = launcher.start(settings_environment(set_data_dir))
    second.wait_healthy()

    assert_healthy_at_head(second)
    assert stored_workflows(app_database_url(second.settings_env)) == before
    assert len(before) == len(example_names())
    release = second.wait_for_output(r"release: schema at .*$").group(0)
    assert f"seeded 0 example workflow(s), {len(before)} already stored" in release
    assert_stopped_cleanly(second.stop(), second)
