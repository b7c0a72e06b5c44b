"""Workflows: list and search, editor with live checks, detail, run form, copy, delete, diff."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from configurable_agents.bootstrap import Database
from configurable_agents.release import seed_examples
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, Workflow
from configurable_agents.storage.repositories import workflows
from tests.unit.dashboard.conftest import SUMMARIZE_YAML, TYPED_YAML, store_run, store_workflow

HX = {"HX-Request": "true"}


def test_list_searches_by_name_and_description(
    client: TestClient, dashboard_database: Database
) -> None:
    store_workflow(dashboard_database)
    store_workflow(dashboard_database, TYPED_YAML)

    everything = client.get("/workflows").text
    assert "summarize" in everything and "typed-inputs" in everything
    found = client.get("/workflows?q=several", headers={**HX, "HX-Target": "workflow-rows"})
    assert found.text.lstrip().startswith('<div id="workflow-rows">')
    assert "typed-inputs" in found.text and ">summarize<" not in found.text
    assert "No workflow matches" in client.get("/workflows?q=zzz").text


def test_editor_checks_as_you_type_and_marks_the_line(client: TestClient, csrf: str) -> None:
    broken = SUMMARIZE_YAML.replace("output: summary", "output: nowhere")
    answer = client.post("/workflows/validate", data={"config_yaml": broken, "csrf_token": csrf})

    assert answer.status_code == 200
    assert 'data-valid="false"' in answer.text
    line = broken.splitlines().index("    output: nowhere") + 1
    assert f'data-line="{line}"' in answer.text and "nowhere" in answer.text
    # The gutter comes along out-of-band with that line marked.
    assert 'id="gutter" class="gutter" aria-hidden="true" hx-swap-oob="true"' in answer.text
    assert re.search(rf'<div class="ln has-error" data-line="{line}"', answer.text)

    good = client.post(
        "/workflows/validate", data={"config_yaml": SUMMARIZE_YAML, "csrf_token": csrf}
    )
    assert 'data-valid="true"' in good.text and "Estimated cost per run" in good.text
    assert "the local model costs nothing" in good.text


def test_editor_reports_yaml_syntax_errors_at_their_line(client: TestClient, csrf: str) -> None:
    text = "schema_version: 1\nname: x\nnodes: [\n"
    answer = client.post("/workflows/validate", data={"config_yaml": text, "csrf_token": csrf})
    assert 'data-valid="false"' in answer.text
    assert re.search(r'data-goto-line="[34]"', answer.text)


def test_the_editor_estimates_a_cost_range_for_priced_models(client: TestClient, csrf: str) -> None:
    text = SUMMARIZE_YAML.replace(
        "nodes:", "llm: {provider: openai, model: gpt-4o-mini, max_tokens: 1000}\nnodes:"
    )
    answer = client.post("/workflows/validate", data={"config_yaml": text, "csrf_token": csrf})
    low, high = re.search(r"<strong>\$([\d.]+) \u2013 \$([\d.]+)</strong>", answer.text).groups()
    assert 0 < float(low) < float(high)


def test_creating_a_workflow_from_the_editor(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    created = client.post(
        "/workflows/new",
        data={"config_yaml": SUMMARIZE_YAML, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert created.status_code == 303
    detail = client.get(created.headers["location"])
    assert "<h1 data-workflow-name>summarize</h1>" in detail.text

    again = client.post("/workflows/new", data={"config_yaml": SUMMARIZE_YAML, "csrf_token": csrf})
    assert again.status_code == 409 and "already exists" in again.text

    invalid = client.post(
        "/workflows/new",
        data={
            "config_yaml": SUMMARIZE_YAML.replace("kind: llm", "kind: magic"),
            "csrf_token": csrf,
        },
    )
    assert invalid.status_code == 422 and "Fix the problems below" in invalid.text
    with session_scope(dashboard_database.session_factory) as session:
        assert workflows.count(session) == 1


def test_htmx_form_posts_load_the_next_page_and_push_its_url(client: TestClient, csrf: str) -> None:
    created = client.post(
        "/workflows/new",
        data={"config_yaml": SUMMARIZE_YAML},
        headers={**HX, "X-CSRF-Token": csrf},
    )
    assert created.status_code == 200
    assert re.fullmatch(
        r'\{"path": "/workflows/\d+", "target": "#main", "swap": "innerHTML show:window:top"\}',
        created.headers["hx-location"],
    )


def test_saving_an_edit_adds_a_version_and_the_diff_shows_it(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    edited = SUMMARIZE_YAML.replace("in one sentence", "in three words")
    saved = client.post(
        f"/workflows/{workflow_id}/edit",
        data={"config_yaml": edited, "note": "shorter", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303

    detail = client.get(f"/workflows/{workflow_id}").text
    assert "v2 of 2" in detail and "shorter" in detail and "Show diff" in detail
    diff = client.get(f"/workflows/{workflow_id}/diff?old=1&new=2").text
    assert '<tr class="diff-del">' in diff and "in one sentence" in diff
    assert '<tr class="diff-add">' in diff and "in three words" in diff
    old = client.get(f"/workflows/{workflow_id}?version=1").text
    assert "v1 of 2" in old and "in one sentence" in old
    assert client.get(f"/workflows/{workflow_id}/diff?old=1&new=9").status_code == 404


def test_detail_draws_the_graph_and_the_typed_run_form(
    client: TestClient, dashboard_database: Database, data_dir: object
) -> None:
    workflow_id = store_workflow(dashboard_database, TYPED_YAML)
    page = client.get(f"/workflows/{workflow_id}").text

    svg = re.search(r"<svg class=\"graph\".*?</svg>", page, re.S).group(0)
    for node in ("START", "write", "END"):
        assert f'data-node="{node}"' in svg
    assert svg.count('<path class="edge"') == 2
    assert 'name="topic"' in page and 'type="number" name="count"' in page
    assert 'step="any"' in page  # ratio is a float
    assert '<option value="bold">bold</option>' in page
    assert f'href="/chat?workflow={workflow_id}"' in page


def test_run_form_shows_errors_by_field_and_queues_a_valid_run(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database, TYPED_YAML)
    bad = client.post(
        f"/workflows/{workflow_id}/run",
        data={"topic": "", "count": "many", "csrf_token": csrf},
        headers={**HX, "HX-Target": "run-form"},
    )
    assert bad.status_code == 422
    assert bad.text.lstrip().startswith('<form id="run-form"')
    assert "topic" in bad.text and "count" in bad.text and 'class="field invalid"' in bad.text

    good = client.post(
        f"/workflows/{workflow_id}/run",
        data={"topic": "tea", "count": "3", "tone": "bold", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert good.status_code == 303
    run_id = good.headers["location"].rsplit("/", 1)[1]
    with session_scope(dashboard_database.session_factory) as session:
        run = session.get(Run, run_id)
        assert run.state == "queued" and run.trigger == "dashboard"
        assert run.inputs == {"topic": "tea", "count": 3, "ratio": 0.5, "tone": "bold"}


def test_duplicate_makes_a_renamed_copy(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    copied = client.post(
        f"/workflows/{workflow_id}/duplicate", data={"csrf_token": csrf}, follow_redirects=False
    )
    page = client.get(copied.headers["location"]).text
    assert "<h1 data-workflow-name>summarize-copy</h1>" in page
    assert "name: summarize-copy\n" in page  # the config's own name follows


def test_delete_asks_first_and_keeps_the_runs(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    run_id = store_run(dashboard_database, workflow_id, state="completed")

    confirm = client.get(f"/workflows/{workflow_id}/delete").text
    assert "Its 1 run is kept" in confirm
    deleted = client.post(f"/workflows/{workflow_id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 200 and "Deleted <strong>summarize</strong>" in deleted.text
    assert client.get(f"/workflows/{workflow_id}").status_code == 404
    assert client.get(f"/runs/{run_id}").status_code == 200
    assert run_id[:8] in client.get("/runs").text


def test_templates_gallery_and_use_this_template(
    client: TestClient, csrf: str, dashboard_database: Database
) -> None:
    with session_scope(dashboard_database.session_factory) as session:
        seeded, _, _ = seed_examples(session)
    gallery = client.get("/templates").text
    assert all(f'data-template="{name}"' in gallery for name in seeded)

    with session_scope(dashboard_database.session_factory) as session:
        template = session.scalar(select(Workflow).where(Workflow.name == "summarize"))
    used = client.post(
        f"/templates/{template.id}/use", data={"csrf_token": csrf}, follow_redirects=False
    )
    copy = client.get(used.headers["location"]).text
    assert "<h1 data-workflow-name>summarize-copy</h1>" in copy
    assert "v1 of 1 · user" in copy
    # The template itself stays as it was, and a second use gets a new name.
    used_again = client.post(
        f"/templates/{template.id}/use", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert "summarize-copy-2" in client.get(used_again.headers["location"]).text


def test_a_stored_version_that_no_longer_validates_says_so(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(
        dashboard_database, SUMMARIZE_YAML.replace("{text}", "{missing}"), name="old-one"
    )
    page = client.get(f"/workflows/{workflow_id}").text
    assert "This version does not validate" in page and "missing" in page
    assert "Fix it in the editor" in page
