"""Every page answers as a full document and as the HTMX fragment of #main."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from dashboard.render import NAVIGATION, active_nav_path
from tests.unit.dashboard.conftest import store_run, store_workflow

NAV_PATHS = [item.path for _, items in NAVIGATION for item in items]
HX = {"HX-Request": "true"}


def test_navigation_has_the_four_sections_with_their_paths() -> None:
    sections = {name: [item.path for item in items] for name, items in NAVIGATION}
    assert sections == {
        "Monitor": ["/", "/runs", "/workflows", "/agents"],
        "Create": ["/chat", "/workflows/new", "/templates"],
        "Analyze": ["/metrics", "/optimization", "/mlflow"],
        "System": ["/orchestrator", "/settings"],
    }


@pytest.fixture
def sample(dashboard_database: Database) -> dict[str, str]:
    """One workflow with a finished run, so detail pages exist."""
    workflow_id = store_workflow(dashboard_database)
    run_id = store_run(dashboard_database, workflow_id, state="completed")
    return {"workflow": str(workflow_id), "run": run_id}


def page_paths(sample: dict[str, str]) -> list[str]:
    return [
        *NAV_PATHS,
        f"/workflows/{sample['workflow']}",
        f"/workflows/{sample['workflow']}/edit",
        f"/workflows/{sample['workflow']}/delete",
        f"/runs/{sample['run']}",
        "/api/docs",
    ]


def test_every_page_is_a_full_document(client: TestClient, sample: dict[str, str]) -> None:
    for path in page_paths(sample):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.text.lstrip().startswith("<!doctype html>"), path
        assert 'id="main"' in page.text and 'id="nav"' in page.text, path
        assert 'hx-boost="true"' in page.text, path
        assert "Traceback" not in page.text


def test_every_page_is_a_fragment_for_htmx(client: TestClient, sample: dict[str, str]) -> None:
    for path in page_paths(sample):
        fragment = client.get(path, headers=HX)
        assert fragment.status_code == 200, path
        assert "<html" not in fragment.text and "<body" not in fragment.text, path
        assert re.search(r"<title>[^<]+ · configurable-agents</title>", fragment.text), path
        # The navigation comes along out-of-band so the current section is highlighted.
        assert re.search(r"<nav id=\"nav\"[^>]*hx-swap-oob=\"true\"", fragment.text), path
        assert "HX-Request" in fragment.headers["vary"]


def test_the_current_section_is_marked_in_the_navigation(
    client: TestClient, sample: dict[str, str]
) -> None:
    fragment = client.get(f"/workflows/{sample['workflow']}", headers=HX).text
    current = re.findall(r'<a href="([^"]+)" class="active" aria-current="page">', fragment)
    assert current == ["/workflows"]
    assert active_nav_path("/workflows/new") == "/workflows/new"
    assert active_nav_path("/workflows/3/edit") == "/workflows"
    assert active_nav_path("/runs/abc") == "/runs"
    assert active_nav_path("/") == "/"


def test_a_history_restore_gets_the_full_document(client: TestClient) -> None:
    # HTMX asks the server when its history cache misses; it needs the whole page then.
    restored = client.get("/runs", headers={**HX, "HX-History-Restore-Request": "true"})
    assert restored.text.lstrip().startswith("<!doctype html>")


def test_errors_are_friendly_in_both_shapes(client: TestClient) -> None:
    missing = client.get("/workflows/999")
    assert missing.status_code == 404
    assert "no workflow with id 999" in missing.text and "<!doctype html>" in missing.text
    fragment = client.get("/runs/nope", headers=HX)
    assert fragment.status_code == 404 and "no run with id nope" in fragment.text
    assert "<html" not in fragment.text
    assert client.get("/runs?state=exploded").status_code == 400


def test_home_on_an_empty_database_says_what_to_do_first(client: TestClient) -> None:
    page = client.get("/").text
    assert "Create your first workflow" in page
    assert 'href="/templates"' in page and 'href="/workflows/new"' in page
    assert '<table class="list' not in page  # no empty table


def test_home_with_workflows_but_no_run_suggests_running_one(
    client: TestClient, dashboard_database: Database
) -> None:
    store_workflow(dashboard_database)
    client.app.state.tick.latest = None  # the next page view takes a fresh snapshot
    page = client.get("/").text
    assert "Run an example" in page and "Create your first workflow" not in page


def test_home_key_figures_are_at_most_five_worst_first(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    store_run(dashboard_database, workflow_id, state="queued")
    store_run(
        dashboard_database,
        workflow_id,
        state="failed",
        error_type="LLMTimeout",
        error_message="the model did not answer in 60 s",
    )
    client.app.state.tick.latest = None
    page = client.get("/").text

    figures = re.findall(r'data-figure="([^"]+)" data-tier="([^"]+)"', page)
    assert 1 <= len(figures) <= 5
    tiers = [tier for _, tier in figures]
    order = {"critical": 0, "warning": 1, "info": 2}
    assert tiers == sorted(tiers, key=order.__getitem__)
    # A queued run and no worker alive: nothing will run it, the worst news comes first.
    assert figures[0] == ("workers", "critical")
    assert "LLMTimeout" in page and "the model did not answer in 60 s" in page
