"""The scale-out configuration: PostgreSQL for the app database, Redis for the queue.

Also what the dashboard shows when its database goes away after a good start, and that it
recovers by itself.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_ADMIN_URL
from tests.e2e.conftest import Launcher
from tests.e2e.serviceset import (
    BIN,
    ServiceSet,
    example_names,
    process_environment,
    procfile_commands,
    run_until_exit,
    settings_environment,
    stored_workflows,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
# Bounds a wait for the dashboard to notice a change; its status ticks every 0.5 s here.
NOTICE_SECONDS = 30.0


@pytest.mark.redis
def test_the_whole_set_on_postgresql_and_redis_is_healthy(
    launcher: Launcher, postgres_url: str, redis_queue_url: str, data_dir: Path
) -> None:
    settings_env = settings_environment(
        data_dir, DATABASE_URL=postgres_url, QUEUE_URL=redis_queue_url
    )

    service_set = launcher.start(settings_env)
    service_set.wait_healthy()

    for service in ("dashboard", "chat"):
        # Up or down only (no token here); the SQLite check below shows which database.
        report = httpx.get(f"{service_set.url(service)}/healthz", timeout=5).json()
        assert report["database"] == {"reachable": True}, report
        assert report["schema"] == {"at_head": True}, report
    assert stored_workflows(postgres_url) == [(name, 1) for name in example_names()]
    service_set.wait_for_output(rf"worker ready: .* consuming {re.escape(redis_queue_url)} ")
    # Neither the app database nor the queue fell back to SQLite files.
    assert sorted(p.name for p in data_dir.glob("*.db")) == ["mlflow.db"]
    status = wait_for_status(service_set, lambda s: s["workers_alive"] >= 1)
    assert status["database"]["at_head"] is True
    stopped = service_set.stop()
    assert stopped.left_behind == [], stopped


def test_the_dashboard_reports_a_database_that_goes_away_and_recovers(
    launcher: Launcher, postgres_url: str, data_dir: Path
) -> None:
    settings_env = settings_environment(data_dir, DATABASE_URL=postgres_url)
    migrate = run_until_exit(
        [str(BIN / "configurable-agents"), "migrate"], process_environment(settings_env)
    )
    assert migrate.returncode == 0, migrate.stdout
    dashboard = launcher.start(settings_env, shlex.split(procfile_commands()["dashboard"]))
    dashboard.wait_healthy(["dashboard"])
    database = postgres_url.rsplit("/", 1)[1]

    with httpx.Client(base_url=dashboard.url("dashboard"), timeout=NOTICE_SECONDS) as client:
        with client.stream("GET", "/events/status", params={"format": "json"}) as stream:
            events = status_events(stream)
            assert first_event(events, lambda e: True)["database"]["reachable"] is True

            with database_unreachable(database):
                down = first_event(events, lambda e: not e["database"]["reachable"])
                assert down["database"]["error"], down
                api = client.get("/api/v1/status").json()
                assert api["database"]["reachable"] is False
                assert api["database"]["error"]
                health = client.get("/healthz")
                assert health.status_code == 503
                assert health.json()["status"] == "database unreachable"
                assert "Database unreachable" in client.get("/").text

            up = first_event(events, lambda e: e["database"]["reachable"])
            assert up["database"]["at_head"] is True
        assert client.get("/api/v1/status").json()["database"]["reachable"] is True
        assert client.get("/healthz").status_code == 200
        home = client.get("/")
        assert home.status_code == 200 and "Database unreachable" not in home.text
    assert dashboard.stop().left_behind == []


def status_events(stream: httpx.Response) -> Iterator[dict[str, Any] | None]:
    """The JSON payload of each `status` event of an SSE stream; None for a keepalive."""
    event, data = "", []
    for line in stream.iter_lines():
        if line.startswith(":"):
            yield None
        elif line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].removeprefix(" "))
        elif not line:
            if event == "status" and data:
                yield json.loads("\n".join(data))
            event, data = "", []


def first_event(
    events: Iterator[dict[str, Any] | None], condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The next status event that meets the condition, failing after NOTICE_SECONDS."""
    deadline = time.monotonic() + NOTICE_SECONDS
    seen = []
    for event in events:
        if event is not None:
            if condition(event):
                return event
            seen.append(event["database"])
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no such status event within {NOTICE_SECONDS} s; saw {seen}")


@contextmanager
def database_unreachable(database: str) -> Iterator[None]:
    """Refuse new connections to the database and cut the open ones; restore afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            )
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def wait_for_status(
    service_set: ServiceSet, condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The dashboard's /api/v1/status once it meets the condition (it refreshes every tick)."""
    deadline = time.monotonic() + NOTICE_SECONDS
    while True:
        status = httpx.get(f"{service_set.url('dashboard')}/api/v1/status", timeout=5).json()
        if condition(status):
            return status
        assert time.monotonic() < deadline, f"status never met the condition: {status}"
        time.sleep(0.2)
