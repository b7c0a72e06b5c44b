"""An experiment from the Optimization page's form, end to end in headless Chromium: a
real dashboard and a real worker, every llm node answered by the scripted server.

Upload a dataset with the form, watch the cells finish live, read the comparison, promote
the winner and find it as the workflow's new version."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Dashboard, Process, screenshot, scripted_fixtures
from tests.fakes.openai_server import RecordedRequest, Reply

pytestmark = pytest.mark.browser

WORKFLOW = """\
schema_version: 1
name: brief
description: Say what a text is about.
state:
  text: {type: str, required: true}
  summary: {type: str}
nodes:
  - id: summarize
    kind: llm
    prompt: "Tell me about: {text}"
    output: summary
edges:
  - {from: START, to: summarize}
  - {from: summarize, to: END}
"""
TERSE = "One word: {text}"
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
DATASET = ("text,expected.summary\n" + "".join(f"{w},{w}\n" for w in WORDS)).encode()


def respond(request: RecordedRequest) -> Reply:
    """The terse prompt is answered with exactly the word; the plain one at length. A
    pause keeps the cells in flight long enough to be seen arriving."""
    text = request.last_user_text
    if text.startswith("One word: "):
        return Reply(text=text.removeprefix("One word: "), delay=0.3)
    return Reply(text=f"It is about {text.split(': ')[-1]}, among other things.", delay=0.3)


llm, dashboard = scripted_fixtures(respond, "experiments")


def test_an_experiment_from_the_form_to_a_promoted_version(
    page: Any, dashboard: Dashboard, worker: Process
) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=30) as api:
        created = api.post("/api/v1/workflows", json={"config_yaml": WORKFLOW})
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]

    page.goto(dashboard.url + "/optimization")
    form = page.locator("#experiment-form")
    form.locator('input[name="name"]').fill("one-word")
    form.locator('select[name="workflow"]').select_option("brief")
    form.locator('input[name="variant0_name"]').fill("plain")
    form.locator('input[name="variant1_name"]').fill("terse")
    form.locator('input[name="variant1_node"]').fill("summarize")
    form.locator('textarea[name="variant1_prompt"]').fill(TERSE)
    form.locator('input[name="scorer"][value="exact"]').check()
    form.locator('input[name="scorer_field"]').fill("summary")
    form.locator('input[name="dataset"]').set_input_files(
        files=[{"name": "one-word.csv", "mimeType": "text/csv", "buffer": DATASET}]
    )
    screenshot(page, "experiment-form")
    form.get_by_role("button", name="Create and start").click()

    page.wait_for_url(re.compile(r"/optimization/\d+$"))
    experiment_id = int(page.url.rsplit("/", 1)[1])
    # Live: the progress arrives over the status stream while the worker runs the cells.
    page.wait_for_selector('#experiment-progress [data-experiment-status="running"]')
    page.wait_for_function(
        "() => { const p = document.querySelector('#experiment-progress [data-done]');"
        " return p && Number(p.dataset.done) > 0; }",
        timeout=30_000,
    )
    screenshot(page, "experiment-running")
    page.wait_for_selector('#experiment-body[data-status="completed"]', timeout=45_000)
    # The body may be read just after the last cell, a tick before the progress says so.
    page.wait_for_selector('#experiment-progress [data-experiment-status="completed"]')
    assert "12 / 12" in page.inner_text("#experiment-progress")

    terse = page.locator('#comparison tr[data-variant="terse"]')
    assert terse.locator("[data-winner]").count() == 1
    assert terse.locator('[data-verdict="better"]').count() == 1
    assert "1.000" in terse.locator('[data-scorer="exact"]').inner_text()
    assert page.locator('[data-chart="score-cost"] svg circle[data-point="terse"]').count() == 1
    screenshot(page, "experiment-comparison")

    page.click(f'a[href="/optimization/{experiment_id}/rows"]')
    page.wait_for_url(re.compile(r"/rows$"))
    first = page.locator('section[data-row="0"]')
    assert "alpha" in first.locator('[data-side="b"] [data-outputs]').inner_text()
    assert "among other things" in first.locator('[data-side="a"] [data-outputs]').inner_text()
    screenshot(page, "experiment-rows")
    page.go_back()
    page.wait_for_selector("#comparison")

    page.locator('button[data-promote="terse"]').click()
    page.wait_for_url(re.compile(rf"/workflows/{workflow_id}\?version=2$"))
    assert "v2 of 2" in page.inner_text("#main")
    assert "0 runs" in page.inner_text("#main")  # the cells are the experiment's, not listed
    assert TERSE in page.inner_text("#main")
    screenshot(page, "experiment-promoted")

    # Its cells are runs, kept out of the runs list but a click away from the experiment.
    with httpx.Client(base_url=dashboard.url, timeout=30) as api:
        assert api.get("/api/v1/runs").json()["items"] == []
        cells = api.get(f"/api/v1/runs?experiment_id={experiment_id}").json()["items"]
        assert len(cells) == 12 and {cell["state"] for cell in cells} == {"completed"}

    # A run's page adds its inputs and outputs to a dataset.
    page.goto(f"{dashboard.url}/runs/{cells[0]['id']}")
    adding = page.locator("#add-to-dataset")
    adding.locator('input[name="dataset"]').fill("kept-cases")
    adding.get_by_role("button", name="Add to dataset").click()
    page.wait_for_selector('[data-added-to-dataset="kept-cases"]')
    with httpx.Client(base_url=dashboard.url, timeout=30) as api:
        kept = {d["name"]: d for d in api.get("/api/v1/datasets").json()}
        assert kept["kept-cases"]["rows"] == 1 and kept["kept-cases"]["version"] == 1


def test_a_bad_dataset_row_is_shown_at_the_form_and_nothing_is_created(
    page: Any, dashboard: Dashboard
) -> None:
    """(After the test above: the workflow exists.) Row 2 misses its text."""
    page.allowed_errors = ("htmx:responseError", "422")  # the form comes back as a 422
    with httpx.Client(base_url=dashboard.url, timeout=30) as api:
        before = len(api.get("/api/v1/experiments").json())
    page.goto(dashboard.url + "/optimization")
    form = page.locator("#experiment-form")
    form.locator('input[name="name"]').fill("broken")
    form.locator('select[name="workflow"]').select_option("brief")
    form.locator('input[name="variant0_name"]').fill("plain")
    form.locator('input[name="dataset"]').set_input_files(
        files=[
            {
                "name": "broken.csv",
                "mimeType": "text/csv",
                "buffer": b"text,expected.summary\nfine,fine\n,orphan\n",
            }
        ]
    )
    form.get_by_role("button", name="Create and start").click()
    problems = page.locator("[data-dataset-problems]")
    problems.wait_for()
    assert problems.locator('tr[data-row="2"]').count() == 1
    assert "nothing was stored" in problems.inner_text()
    # The form is drawn again as it was sent, in place.
    assert page.locator('#experiment-form input[name="name"]').input_value() == "broken"
    screenshot(page, "experiment-bad-dataset")
    with httpx.Client(base_url=dashboard.url, timeout=30) as api:
        assert len(api.get("/api/v1/experiments").json()) == before
