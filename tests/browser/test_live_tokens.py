"""The run page shows an llm step's answer as its tokens arrive, before the step ends: a real
dashboard and worker, the scripted LLM server writing one word every WORD_DELAY seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Dashboard, Process, screenshot, scripted_dashboard
from tests.fakes.openai_server import FakeLLMServer, RecordedRequest, Reply
from tests.fakes.workflows import echo_workflow

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
    with scripted_dashboard(tmp_path_factory.mktemp("tokens") / "var", llm.base_url) as found:
        yield found


def test_tokens_appear_on_the_run_page_before_the_step_ends(
    page: Any, dashboard: Dashboard, worker: Process
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
