"""The run page shows an llm step's answer as its tokens arrive, before the step ends: a real
dashboard and worker, the scripted LLM server writing one word every WORD_DELAY seconds."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.conftest import (
    READY_SECONDS,
    Dashboard,
    Process,
    release,
    screenshot,
    start,
    start_dashboard,
)
from tests.e2e.serviceset import process_environment, settings_environment
from tests.fakes.openai_server import FakeLLMServer, RecordedRequest, Reply
from tests.fakes.workflows import echo_workflow, fake_llm_settings

WORD_DELAY = 0.3
WORDS = " ".join(f"word{n}" for n in range(12))
ECHO = echo_workflow("slow-echo")


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    def respond(request: RecordedRequest) -> Reply:
        return Reply(text=request.last_user_text, chunk_delay=WORD_DELAY)

    with FakeLLMServer(default=respond) as server:
        yield server


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLMServer) -> Iterator[Dashboard]:
    """A dashboard whose worker asks the scripted server (overrides the conftest's)."""
    data_dir = tmp_path_factory.mktemp("tokens") / "var"
    settings_env = settings_environment(
        data_dir,
        **fake_llm_settings(llm.base_url),
    )
    env = process_environment(settings_env)
    release(env)
    process = start_dashboard(env, data_dir.parent / "dashboard.log")
    url = f"http://127.0.0.1:{settings_env['DASHBOARD_PORT']}"
    try:
        yield Dashboard(url, data_dir, env, process)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def echo_worker(dashboard: Dashboard) -> Iterator[Process]:
    process = start(
        [sys.executable, "-m", "configurable_agents", "worker"],
        dashboard.env,
        dashboard.data_dir.parent / "worker.log",
    )
    deadline = time.monotonic() + READY_SECONDS
    while httpx.get(f"{dashboard.url}/api/v1/status", timeout=5).json()["workers_alive"] < 1:
        assert process.popen.poll() is None and time.monotonic() < deadline, process.output()
        time.sleep(0.3)
    yield process
    process.stop()


def test_tokens_appear_on_the_run_page_before_the_step_ends(
    page: Any, dashboard: Dashboard, echo_worker: Process
) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=30) as api:
        assert api.post("/api/v1/workflows", json={"config_yaml": ECHO}).status_code == 201
        run = api.post("/api/v1/workflows/slow-echo/runs", json={"inputs": {"text": WORDS}})
        run_id = run.json()["id"]
        page.goto(f"{dashboard.url}/runs/{run_id}")

        box = page.locator('#run-tokens [data-live-node="answer"] pre')
        page.wait_for_function(
            "() => { const b = document.querySelector('#run-tokens [data-live-node=\"answer\"] pre');"
            " return b && b.textContent.split(' ').length >= 3; }",
            timeout=30_000,
        )
        shown_early = box.inner_text()
        # The step has not ended: nothing is stored for it yet and the run still runs.
        assert api.get(f"/api/v1/runs/{run_id}/steps").json() == []
        assert api.get(f"/api/v1/runs/{run_id}").json()["state"] == "running"
        assert WORDS.startswith(shown_early.strip())
        assert len(shown_early.strip()) < len(WORDS)
        screenshot(page, "run-tokens-arriving")

        page.wait_for_selector('[data-run-state="completed"]', timeout=60_000)
        assert box.inner_text().strip() == WORDS
        assert page.inner_text("[data-raw-output]").strip() == WORDS
