"""The run page shows an llm step's answer as its tokens arrive, before the step ends: a real
dashboard and worker, the scripted LLM server writing one word every WORD_DELAY seconds."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.conftest import Dashboard, Process, screenshot, scripted_fixtures
from tests.fakes.openai_server import RecordedRequest, Reply
from tests.fakes.workflows import echo_workflow

WORD_DELAY = 0.3
WORDS = " ".join(f"word{n}" for n in range(12))
ECHO = echo_workflow("slow-echo")


def respond(request: RecordedRequest) -> Reply:
    """Every prompt answered back, one word every WORD_DELAY seconds."""
    return Reply(text=request.last_user_text, chunk_delay=WORD_DELAY)


llm, dashboard = scripted_fixtures(respond, "tokens")


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
