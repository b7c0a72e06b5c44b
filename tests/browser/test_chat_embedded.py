"""The chat builder embedded in the dashboard's /chat page, in headless Chromium: type a
request, press Enter, see the config and the graph, Save, follow the saved link; reload
and find everything still there; Edit in chat opens a stored workflow. Nothing is loaded
from outside 127.0.0.1.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Dashboard, Process, screenshot, start, wait_healthy

pytestmark = pytest.mark.browser

FRAME = "iframe[data-service-frame=chat]"


@pytest.fixture(scope="module")
def chat(dashboard: Dashboard) -> Iterator[Process]:
    """`python -m chat` on the dashboard's database, at the CHAT_PORT the dashboard links."""
    process = start(
        [sys.executable, "-m", "chat"], dashboard.env, dashboard.data_dir.parent / "chat.log"
    )
    try:
        wait_healthy(f"{chat_url(dashboard)}/healthz", process)
        yield process
    finally:
        process.stop()


@pytest.fixture
def outside(page: Any) -> list[str]:
    """Every request the page makes that does not go to this machine."""
    seen: list[str] = []
    page.on(
        "request",
        lambda request: (
            seen.append(request.url)
            if not re.match(r"^(https?://127\.0\.0\.1[:/]|data:|blob:|about:)", request.url)
            else None
        ),
    )
    return seen


def chat_url(dashboard: Dashboard) -> str:
    return f"http://127.0.0.1:{dashboard.env['CHAT_PORT']}"


def open_chat(page: Any, url: str) -> Any:
    page.goto(url)
    frame = page.frame_locator(FRAME)
    frame.locator('[data-ready="1"]').wait_for(timeout=30_000)
    return frame


def test_a_request_in_the_embedded_chat_is_built_saved_and_still_there_after_a_reload(
    page: Any, dashboard: Dashboard, chat: Process, outside: list[str]
) -> None:
    frame = open_chat(page, f"{dashboard.url}/chat")

    box = frame.locator("#ca-input textarea")
    box.fill("Write an article about a topic and then review it, at most 3 rounds")
    box.press("Enter")
    frame.locator('[data-validation="valid"]').wait_for(timeout=90_000)
    status = frame.locator("#ca-status").inner_text()
    assert "Valid" in status and "write-and-review" in status
    # The graph is drawn (Mermaid renders an SVG) and the YAML is there.
    frame.locator(".ca-graph svg").first.wait_for(timeout=20_000)
    assert "Mode: offline" in frame.locator("#ca-chatbot").inner_text()

    frame.locator("#ca-save").click()
    link = frame.locator("[data-saved-link]")
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    assert href and re.fullmatch(rf"{re.escape(dashboard.url)}/workflows/\d+", href)
    assert "v1" in link.inner_text()
    screenshot(page, "chat-embedded-saved")

    listed = httpx.get(f"{dashboard.url}/api/v1/workflows", timeout=10).json()
    assert "write-and-review" in [item["name"] for item in listed]

    # Something typed but not sent yet survives a reload too.
    from chat.ui import DRAFT_KEY

    draft = "add a step that translates the article to French"
    frame.locator("#ca-input textarea").fill(draft)
    chat_frame = next(f for f in page.frames if f.url.startswith(chat_url(dashboard)))
    chat_frame.wait_for_function(f"(d) => localStorage.getItem('{DRAFT_KEY}') === d", arg=draft)
    page.reload()
    frame = page.frame_locator(FRAME)
    frame.locator("[data-saved-link]").wait_for(timeout=30_000)
    assert "Write an article about a topic" in frame.locator("#ca-chatbot").inner_text()
    assert frame.locator("#ca-input textarea").input_value() == draft

    page.goto(href)
    assert "write-and-review" in page.inner_text("body")
    assert outside == []


def test_edit_in_chat_opens_the_stored_workflow(
    page: Any, dashboard: Dashboard, chat: Process, outside: list[str]
) -> None:
    listed = httpx.get(f"{dashboard.url}/api/v1/workflows", timeout=10).json()
    summarize = next(item for item in listed if item["name"] == "summarize")

    frame = open_chat(page, f"{dashboard.url}/chat?workflow={summarize['id']}")

    frame.locator("text=Loaded summarize").wait_for(timeout=30_000)
    box = frame.locator("#ca-input textarea")
    box.fill("add a step that translates the summary to French")
    box.press("Enter")
    frame.locator("text=Added the step 'translate'").wait_for(timeout=60_000)
    frame.locator("#ca-save").click()
    frame.locator("[data-saved-link]", has_text="v2").wait_for(timeout=30_000)
    screenshot(page, "chat-edit-in-chat")
    assert outside == []
