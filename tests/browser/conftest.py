"""A real dashboard process (and a worker when a test runs workflows) on a temporary data
folder, driven by headless Chromium through Playwright.

Chromium is Debian's (/usr/bin/chromium): Playwright's own browser download does not work
here. Screenshots of each page go to test-artifacts/browser/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unavailable
from tests.e2e.serviceset import process_environment, settings_environment
from tests.fakes.openai_server import FakeLLMServer, RecordedRequest, Reply
from tests.fakes.workflows import fake_llm_settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Bounds on waits for processes to come up; they normally take a few seconds.
READY_SECONDS = 60.0
STOP_SECONDS = 10.0


@dataclass
class Process:
    """A process this suite started, with its output file."""

    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(STOP_SECONDS)


@dataclass
class Dashboard:
    """The running dashboard: its URL, data folder and environment."""

    url: str
    data_dir: Path
    env: dict[str, str]
    process: Process

    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'configurable_agents.db'}"


def start(command: list[str], env: dict[str, str], log: Path) -> Process:
    with log.open("wb") as out:
        popen = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(popen, log)


def wait_healthy(url: str, process: Process) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"the process exited:\n{process.output()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200:\n{process.output()}")


def release(env: dict[str, str]) -> None:
    """Migrate and seed the examples, as the Procfile's release step does."""
    done = subprocess.run(
        [sys.executable, "-m", "configurable_agents", "release"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def start_dashboard(env: dict[str, str], log: Path) -> Process:
    """`python -m dashboard` (uvicorn) with this environment, once it answers /healthz."""
    process = start([sys.executable, "-m", "dashboard"], env, log)
    wait_healthy(f"http://127.0.0.1:{env['DASHBOARD_PORT']}/healthz", process)
    return process


def prepared(data_dir: Path, **settings: str) -> tuple[str, dict[str, str]]:
    """The dashboard URL and environment for a fresh, migrated and seeded data folder
    (``settings``: settings other than the defaults)."""
    settings_env = settings_environment(data_dir, **settings)
    env = process_environment(settings_env)
    release(env)
    return f"http://127.0.0.1:{settings_env['DASHBOARD_PORT']}", env


@contextlib.contextmanager
def running_dashboard(data_dir: Path, **settings: str) -> Iterator[Dashboard]:
    """Migrated and seeded by the release step, then `python -m dashboard` on a free port,
    stopped on the way out."""
    url, env = prepared(data_dir, **settings)
    process = start_dashboard(env, data_dir.parent / "dashboard.log")
    try:
        yield Dashboard(url, data_dir, env, process)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """A dashboard on a fresh data folder (the embedded local model answers)."""
    with running_dashboard(tmp_path_factory.mktemp("browser") / "var") as found:
        yield found


def start_worker(dashboard: Dashboard) -> Process:
    """A worker on the dashboard's database and queue, once it has registered."""
    process = start(
        [sys.executable, "-m", "configurable_agents", "worker"],
        dashboard.env,
        dashboard.data_dir.parent / "worker.log",
    )
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        # A busy machine can hold the first answer a few seconds: ask again until the end.
        with contextlib.suppress(httpx.TimeoutException):
            status = httpx.get(f"{dashboard.url}/api/v1/status", timeout=5).json()
            if status["workers_alive"] >= 1:
                return process
        if process.popen.poll() is not None:
            break
        time.sleep(0.3)
    process.stop()
    raise AssertionError(f"the worker never registered:\n{process.output()}")


def scripted_fixtures(respond: Callable[[RecordedRequest], Reply], folder: str) -> tuple[Any, Any]:
    """Module fixtures ``llm`` (the scripted server answering every request with
    ``respond``) and ``dashboard`` (one whose workers send every llm node to it, in place of
    the conftest's); assign them as ``llm, dashboard = scripted_fixtures(...)``."""

    @pytest.fixture(scope="module", name="llm")
    def llm() -> Iterator[FakeLLMServer]:
        with FakeLLMServer(default=respond) as server:
            yield server

    @pytest.fixture(scope="module", name="dashboard")
    def dashboard(
        tmp_path_factory: pytest.TempPathFactory, llm: FakeLLMServer
    ) -> Iterator[Dashboard]:
        data_dir = tmp_path_factory.mktemp(folder) / "var"
        with running_dashboard(data_dir, **fake_llm_settings(llm.base_url)) as found:
            yield found

    return llm, dashboard


@pytest.fixture(scope="module")
def worker(dashboard: Dashboard) -> Iterator[Process]:
    """A worker on the same database and queue (the embedded local model answers)."""
    process = start_worker(dashboard)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, dashboard: Dashboard) -> Iterator[object]:
    """A fresh browser tab; any JavaScript error or alert dialog fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    def dialog(d: object) -> None:
        errors.append(f"a dialog opened: {d.message}")  # type: ignore[attr-defined]
        d.dismiss()  # type: ignore[attr-defined]

    tab.on("dialog", dialog)
    tab.allowed_errors = ()  # type: ignore[attr-defined]  # a test may expect some
    yield tab
    context.close()
    unexpected = [e for e in errors if not any(a in e for a in tab.allowed_errors)]  # type: ignore[attr-defined]
    assert unexpected == [], unexpected


def screenshot(page: object, name: str) -> None:
    """Keep what the page looked like, as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
