"""The chat's door in headless Chromium.

A page served from another local port (http://localhost:<port>, a tiny http.server this
test starts) tries what a hostile page would: fetch the chat's build, save and run
endpoints with credentials, as JSON (needs a preflight) and as text/plain no-cors posts
(no preflight). Every attempt is refused and nothing is stored. Then, with
DASHBOARD_ACCESS_TOKEN set, logging in to the dashboard opens the chat in its frame: one
login for both processes.
"""

from __future__ import annotations

import functools
import http.server
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.browser.conftest import (
    Dashboard,
    Process,
    prepared,
    screenshot,
    start,
    start_dashboard,
    wait_healthy,
)
from tests.conftest import free_port

pytestmark = pytest.mark.browser

TOKEN = "browser-door-token-91c"
FRAME = "iframe[data-service-frame=chat]"
YAML = "name: stolen\nstate:\n  text: str\nnodes: []\n"

ATTACK = """<!doctype html><html><body><p id="done"></p><script>
async function attempt(name, url, init) {
  try {
    const answer = await fetch(url, init);
    return [name, answer.type === "opaque" ? "opaque" : answer.status];
  } catch (error) {
    return [name, "blocked"];
  }
}
window.results = (async () => {
  const chat = CHAT;
  const body = JSON.stringify({data: ["", YAML]});
  const out = {};
  const tries = [
    ["json-apply", chat + "/gradio_api/call/apply",
     {method: "POST", credentials: "include", body,
      headers: {"Content-Type": "application/json"}}],
    ["json-join", chat + "/gradio_api/queue/join",
     {method: "POST", credentials: "include",
      body: JSON.stringify({data: ["", YAML], fn_index: 0, session_hash: "attack"}),
      headers: {"Content-Type": "application/json"}}],
    ["plain-apply", chat + "/gradio_api/call/apply",
     {method: "POST", credentials: "include", mode: "no-cors", body,
      headers: {"Content-Type": "text/plain"}}],
    ["plain-save", chat + "/gradio_api/call/save",
     {method: "POST", credentials: "include", mode: "no-cors",
      body: JSON.stringify({data: [""]}), headers: {"Content-Type": "text/plain"}}],
    ["read-config", chat + "/config", {credentials: "include"}],
  ];
  for (const [name, url, init] of tries) {
    const [key, value] = await attempt(name, url, init);
    out[key] = value;
  }
  document.getElementById("done").textContent = "done";
  return out;
})();
</script></body></html>
"""


def chat_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['CHAT_PORT']}"


def start_chat(env: dict[str, str], log: Path) -> Process:
    process = start([sys.executable, "-m", "chat"], env, log)
    wait_healthy(f"{chat_url(env)}/healthz", process)
    return process


@pytest.fixture(scope="module")
def chat(dashboard: Dashboard) -> Iterator[Process]:
    """`python -m chat` on loopback, no token: the case where Gradio's CORS let pages in."""
    process = start_chat(dashboard.env, dashboard.data_dir.parent / "chat-door.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def hostile_site(tmp_path: Path, dashboard: Dashboard) -> Iterator[str]:
    """http://localhost:<port>/attack.html, served by http.server on another local port."""
    page = ATTACK.replace("CHAT", json.dumps(chat_url(dashboard.env))).replace(
        "YAML", json.dumps(YAML)
    )
    (tmp_path / "attack.html").write_text(page)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}/attack.html"
    finally:
        server.shutdown()
        server.server_close()


def counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("workflows", "chat_sessions", "runs")
            }
    finally:
        engine.dispose()


def test_a_page_on_another_local_port_cannot_use_the_chat(
    page: Any, dashboard: Dashboard, chat: Process, hostile_site: str
) -> None:
    # Chromium reports each refused request on the console: expected here.
    page.allowed_errors = ("CORS policy", "Failed to load resource", "net::ERR_FAILED")
    answers: list[tuple[str, int]] = []
    page.on(
        "response",
        lambda response: (
            answers.append((response.request.method, response.status))
            if response.url.startswith(chat_url(dashboard.env))
            else None
        ),
    )
    before = counts(dashboard.database_url())

    page.goto(hostile_site)
    results = page.evaluate("window.results")

    # The JSON calls need a preflight, which is refused, so they are never sent; the
    # no-cors posts reach the chat and are refused there (opaque to the page).
    assert results == {
        "json-apply": "blocked",
        "json-join": "blocked",
        "plain-apply": "opaque",
        "plain-save": "opaque",
        "read-config": "blocked",
    }
    assert answers, "the chat saw none of the attempts"
    assert all(status == 403 for _, status in answers), answers
    assert ("POST", 403) in answers
    assert counts(dashboard.database_url()) == before


def test_with_a_token_one_login_at_the_dashboard_opens_the_chat(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("door-browser") / "var"
    url, env = prepared(data_dir)
    env["DASHBOARD_ACCESS_TOKEN"] = TOKEN
    dashboard = start_dashboard(env, data_dir.parent / "dashboard.log")
    chat = start_chat(env, data_dir.parent / "chat.log")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        # Before logging in the chat itself asks for the token.
        tab.goto(f"{chat_url(env)}/")
        assert tab.url.startswith(f"{chat_url(env)}/login")

        tab.goto(f"{url}/chat")
        tab.fill("input[name=token]", TOKEN)
        tab.click("button[type=submit]")
        tab.wait_for_url(f"{url}/chat")
        frame = tab.frame_locator(FRAME)
        frame.locator('[data-ready="1"]').wait_for(timeout=60_000)
        screenshot(tab, "chat-behind-the-door")
        # The frame built a session through Gradio's queue: the cookie reached the chat.
        frame.locator("#ca-input textarea").fill("Summarize a text")
        frame.locator("#ca-input textarea").press("Enter")
        frame.locator('[data-validation="valid"]').wait_for(timeout=90_000)
    finally:
        context.close()
        chat.stop()
        dashboard.stop()
