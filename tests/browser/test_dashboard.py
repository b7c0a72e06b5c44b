"""The dashboard in headless Chromium against a real dashboard process (and worker)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.storage.database import (
    create_db_engine,
    make_session_factory,
    session_scope,
)
from configurable_agents.storage.models import Run
from configurable_agents.storage.repositories import steps, workflows
from dashboard.render import NAVIGATION
from tests.browser.conftest import Dashboard, prepared, screenshot, start_dashboard

pytestmark = pytest.mark.browser
XSS = "<script>alert(1)</script>"


def open_database(dashboard: Dashboard) -> Database:
    engine = create_db_engine(dashboard.database_url())
    return Database(engine, make_session_factory(engine))


def heading(page: Any) -> str:
    return page.locator("#main h1").first.inner_text()


def test_every_section_opens_from_the_navigation(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    for _, items in NAVIGATION:
        for item in items:
            page.click(f'#nav a[href="{item.path}"]')
            page.wait_for_url(dashboard.url + item.path)
            page.wait_for_selector(f'#nav a[href="{item.path}"].active')
            # The page of this click has arrived (for the section shown already, the URL and
            # the highlight are right before it does) before the next click.
            page.wait_for_function("!document.querySelector('.htmx-request')")
            assert page.title().endswith("· configurable-agents")
            screenshot(page, "section-" + (item.path.strip("/").replace("/", "-") or "home"))
    # The embedded services are not running in this test: each page says how to start them.
    page.goto(dashboard.url + "/chat")
    assert "honcho start chat" in page.inner_text("#main")
    page.goto(dashboard.url + "/mlflow")
    assert "honcho start mlflow" in page.inner_text("#main")


def test_the_last_of_two_quick_clicks_in_the_navigation_wins(
    page: Any, dashboard: Dashboard
) -> None:
    # A second click while the first page is on its way replaces it: the page and the
    # address are the second section's, never the first's arriving late. htmx logs the
    # first page's request, aborted on purpose, to the console.
    page.allowed_errors = ("htmx:sendAbort", "htmx:afterRequest")
    page.goto(dashboard.url + "/")
    for first, second in [("/", "/runs"), ("/workflows", "/templates"), ("/runs", "/")]:
        page.click(f'#nav a[href="{first}"]')
        page.click(f'#nav a[href="{second}"]')
        page.wait_for_selector(f'#nav a[href="{second}"].active')
        page.wait_for_function("!document.querySelector('.htmx-request')")
        assert page.url == dashboard.url + second
        assert page.locator("#nav a.active").get_attribute("href") == second


def test_a_workflow_from_a_template_and_back_and_forward(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/templates")
    card = page.locator('[data-template="summarize-and-translate"]')
    card.get_by_role("button", name="Use this template").click()
    page.wait_for_url(re.compile(r"/workflows/\d+$"))
    assert heading(page).startswith("summarize-and-translate-copy")
    assert page.locator("svg.graph [data-node='translate']").count() == 1
    screenshot(page, "workflow-detail")

    page.click('#nav a[href="/runs"]')
    page.wait_for_url(dashboard.url + "/runs")
    page.go_back()
    page.wait_for_url(re.compile(r"/workflows/\d+$"))
    assert heading(page).startswith("summarize-and-translate-copy")
    page.go_back()
    page.wait_for_url(dashboard.url + "/templates")
    assert heading(page) == "Templates"
    page.go_forward()
    page.wait_for_url(re.compile(r"/workflows/\d+$"))
    assert heading(page).startswith("summarize-and-translate-copy")


def test_the_editor_checks_as_you_type(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/workflows/new")
    page.wait_for_selector('[data-valid="true"]')
    editor = page.locator("textarea[data-editor]")
    text = editor.input_value().replace("output: answer", "output: nowhere")
    editor.fill(text)
    page.wait_for_selector('[data-valid="false"]')
    line = text.splitlines().index("    output: nowhere") + 1
    assert page.locator(f'#gutter .ln.has-error[data-line="{line}"]').count() == 1
    screenshot(page, "editor-with-error")
    page.click(f'button[data-goto-line="{line}"]')
    selected = page.evaluate(
        "() => { const t = document.querySelector('textarea[data-editor]');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == "    output: nowhere"


def test_the_palette_finds_a_workflow_from_the_keyboard(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/settings")
    page.keyboard.press("Control+k")
    page.wait_for_selector("#palette:not([hidden])")
    page.keyboard.type("sentrout")  # fuzzy: sentiment-router
    first = page.locator('#palette-list [role="option"]').first
    first.wait_for()
    assert first.get_attribute("aria-selected") == "true"
    assert "sentiment-router" in first.inner_text()
    screenshot(page, "palette")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/workflows/\d+$"))
    assert heading(page) == "sentiment-router"
    page.keyboard.press("Meta+k")
    page.wait_for_selector("#palette:not([hidden])")
    page.keyboard.press("Escape")
    page.wait_for_selector("#palette", state="hidden")


def test_user_data_is_shown_as_text(page: Any, dashboard: Dashboard) -> None:
    database = open_database(dashboard)
    with session_scope(database.session_factory) as session:
        template = workflows.get_by_name(session, "summarize")
        version = workflows.get_version(session, template.id)
        evil = workflows.create(session, name=XSS, config_yaml=version.config_yaml)
        run = Run(
            workflow_id=evil.id,
            workflow_version_id=evil.versions[0].id,
            workflow_name=evil.name,
            inputs={"text": "<b>hi</b>"},
            state="completed",
        )
        session.add(run)
        session.flush()
        steps.record(session, run.id, node="summarize", raw_output='<img src=x onerror="alert(2)">')
        evil_id, run_id = evil.id, run.id
    database.engine.dispose()

    page.goto(dashboard.url + "/workflows")
    assert XSS in page.inner_text("#workflow-rows")
    page.goto(f"{dashboard.url}/workflows/{evil_id}")
    assert heading(page) == XSS
    page.goto(f"{dashboard.url}/runs/{run_id}")
    assert page.inner_text("[data-raw-output]") == '<img src=x onerror="alert(2)">'
    assert page.locator("#main img").count() == 0
    page.keyboard.press("Control+k")
    page.keyboard.type("script")
    assert XSS in page.locator('#palette-list [role="option"]').first.inner_text()
    screenshot(page, "xss-as-text")
    # The page fixture fails the test if any alert() ran.


def test_run_a_workflow_from_the_palette_and_watch_it_live(
    page: Any, dashboard: Dashboard, worker: object
) -> None:
    page.goto(dashboard.url + "/")
    page.keyboard.press("Control+k")
    page.keyboard.type("run workflow summarize")
    option = page.locator('#palette-list [role="option"]').first
    option.wait_for()
    assert option.inner_text().startswith("Action")
    assert "Run workflow summarize" in option.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/workflows/\d+#run$"))
    page.wait_for_function("document.activeElement && document.activeElement.name === 'text'")
    page.keyboard.type("Tea is a drink made by pouring hot water over cured leaves.")
    page.evaluate("window.stillTheSamePage = true")
    page.click("#run-form button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))

    # The steps appear and the run completes while the page stays the same (no reload).
    page.wait_for_selector('[data-run-state="completed"]', timeout=90_000)
    page.wait_for_selector('#run-body [data-step="1"]')
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.locator('.node-bar .seg.state-completed[data-node="summarize"]').count() == 1
    assert page.inner_text("[data-raw-output]").strip()
    screenshot(page, "run-completed")

    page.go_back()
    page.wait_for_url(re.compile(r"/workflows/\d+"))
    page.wait_for_selector("#run-form")


def test_live_status_reconnects_after_a_dashboard_restart(
    page: Any, tmp_path: Path, browser: object
) -> None:
    data_dir = tmp_path / "var"
    url, env = prepared(data_dir)
    first = start_dashboard(env, tmp_path / "first.log")
    try:
        page.goto(url + "/")
        figure = page.locator('[data-figure="runs-24h"] .value')
        assert figure.inner_text() == "0"
        page.evaluate("window.stillTheSamePage = true")
    finally:
        first.stop()
    second = start_dashboard(env, tmp_path / "second.log")
    try:
        engine = create_db_engine(f"sqlite:///{data_dir / 'configurable_agents.db'}")
        with session_scope(make_session_factory(engine)) as session:
            session.add(Run(workflow_name="summarize", inputs={}, state="failed"))
        engine.dispose()
        # The page reconnects by itself and shows the new run, without a reload.
        page.wait_for_function(
            "document.querySelector('[data-figure=\"runs-24h\"] .value').textContent.trim() === '1'",
            timeout=30_000,
        )
        assert page.evaluate("window.stillTheSamePage") is True
        screenshot(page, "home-after-restart")
    finally:
        second.stop()
    # The stream broke and was refused while the dashboard was down (the SSE extension logs
    # the EventSource's error events): expected here, not a page error.
    page.allowed_errors = ("net::ERR_", "[object Event]")


def test_home_shows_system_resources(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    panel = page.locator('[data-panel="resources"]')
    panel.wait_for()
    # The dashboard's own process is always in the set it reports.
    assert panel.locator('[data-process="dashboard"]').is_visible()
    for name in ("cpu", "memory", "disk"):
        assert re.search(r"\d", panel.locator(f'[data-resource="{name}"] .value').inner_text())
    screenshot(page, "home-resources")
