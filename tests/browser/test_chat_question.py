"""A clarifying question and its answer, end to end in the Gradio chat app in headless
Chromium: a request whose loop has no bound gets the plan, a guess and the question "How
many rounds at most?" with the answers as buttons; clicking one changes the loop, and the
plan and the YAML show it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Dashboard, Process, screenshot
from tests.browser.test_chat_embedded import chat, chat_url  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


def test_a_question_with_buttons_is_answered_by_a_click_and_changes_the_loop(
    page: Any,
    dashboard: Dashboard,
    chat: Process,  # noqa: F811
) -> None:
    page.goto(chat_url(dashboard))
    page.locator('[data-ready="1"]').wait_for(timeout=30_000)

    box = page.locator("#ca-input textarea")
    box.fill("Write a poem about the sea and review it until it is good")
    box.press("Enter")
    page.locator('[data-validation="valid"]').wait_for(timeout=90_000)
    conversation = page.locator("#ca-chatbot")
    conversation.get_by_text("How many rounds at most?").wait_for()
    said = conversation.inner_text()
    # The plan comes in the reply, before any YAML: each step, its kind, what it reads.
    assert "`write` (llm) reads `topic`" not in said  # markdown is rendered, not shown raw
    assert "write (llm) reads" in said and "review (llm, review) reads poem" in said
    assert "repeat (loop) back to write" in said and "at most 3 times" in said
    assert "No limit was given for the repeat, so it stops after 3 rounds" in said
    screenshot(page, "chat-question-asked")

    conversation.get_by_role("button", name="5 rounds").click()

    conversation.get_by_text("The loop 'repeat' now runs at most 5 times.").wait_for(timeout=60_000)
    page.get_by_role("tab", name="Plan").click()
    assert "at most 5 times" in page.locator("#ca-plan").inner_text()
    page.get_by_role("tab", name="YAML").click()
    assert "max_iterations: 5" in page.locator("#ca-yaml").inner_text()
    # The question is answered: its buttons are gone.
    assert conversation.get_by_role("button", name="10 rounds").count() == 0
    screenshot(page, "chat-question-answered")
