"""Fixtures that start the real Procfile under honcho (or one of its processes) with xprocess."""

from __future__ import annotations

import random
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from xprocess import ProcessStarter, XProcess

from tests.conftest import REDIS_URL, unavailable
from tests.e2e.serviceset import (
    REPO,
    START_SECONDS,
    ServiceSet,
    honcho_command,
    kill_all,
    process_environment,
    write_env_file,
)


class Launcher:
    """Starts processes under xprocess and makes sure none outlives the fixture."""

    def __init__(self, xprocess: XProcess, tmp: Path) -> None:
        self.xprocess = xprocess
        self.tmp = tmp
        self.started: list[tuple[str, ServiceSet]] = []

    def start(
        self, settings_env: dict[str, str], command: Sequence[str] | None = None
    ) -> ServiceSet:
        """Start ``command`` (default: `honcho start` on the whole Procfile); do not wait."""
        name = f"e2e-{uuid.uuid4().hex[:10]}"
        env_file = write_env_file(self.tmp / f"{name}.env", settings_env)
        argv = list(command) if command else honcho_command(env_file)
        environment = process_environment(settings_env)

        class Starter(ProcessStarter):
            args = argv
            env = environment
            # Started from the repo root, as a user runs `honcho start`.
            popen_kwargs = {"cwd": str(REPO)}
            timeout = START_SECONDS
            terminate_on_interrupt = True

            def startup_check(self) -> bool:
                # ServiceSet.wait_healthy does the real waiting and reports honcho's output.
                return True

        pid, log_path = self.xprocess.ensure(name, Starter, persist_logs=False)
        service_set = ServiceSet(settings_env=settings_env, log_path=Path(log_path), pid=pid)
        service_set.remember()
        self.started.append((name, service_set))
        return service_set

    def close(self) -> None:
        """Stop whatever a test left running (a failed check must not leak processes)."""
        for name, service_set in self.started:
            stopped = service_set.stop()
            kill_all(stopped.left_behind)
            info = self.xprocess.getinfo(name)
            info.terminate()
            shutil.rmtree(str(info.controldir), ignore_errors=True)
        self.started.clear()


@pytest.fixture
def launcher(xprocess: XProcess, tmp_path: Path) -> Iterator[Launcher]:
    """Start sets that live for one test."""
    launcher = Launcher(xprocess, tmp_path)
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def module_launcher(
    xprocess: XProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Launcher]:
    """Start sets shared by the tests of one module (MLflow alone takes about 10 s to start)."""
    launcher = Launcher(xprocess, tmp_path_factory.mktemp("sets"))
    yield launcher
    launcher.close()


@pytest.fixture
def redis_queue_url() -> str:
    """A Redis database for the queue; a number away from other test sessions' by chance."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        unavailable("Redis on 127.0.0.1:6379")
    base = REDIS_URL.rsplit("/", 1)[0]
    return f"{base}/{random.randint(1, 14)}"
