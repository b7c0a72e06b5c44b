"""The chat builder as a running process, driven with gradio_client the way the page
drives it: a request gives a config that validates, Save stores it (the dashboard's API
lists it), a second turn changes it and Save adds a version.

The chat and the dashboard run as real processes (`python -m chat`, `python -m dashboard`)
on free ports with a temporary DATA_DIR, after `python -m configurable_agents migrate`.
No capable LLM is configured: the offline builder and the embedded model answer.
"""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest

from configurable_agents.config import load_config, validate_text
from tests.e2e.conftest import Launcher
from tests.e2e.serviceset import (
    app_database_url,
    process_environment,
    run_until_exit,
    settings_environment,
    stored_workflows,
)

pytestmark = pytest.mark.e2e

# The outputs of every chat endpoint, in order.
CHAT, TEXT, SESSION, STATUS, PLAN, GRAPH, YAML, EXPLAINED, INPUTS, SESSIONS = range(10)


@pytest.fixture(scope="module")
def chat_env(module_launcher: Launcher, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated database, then the chat and the dashboard on it."""
    data_dir = tmp_path_factory.mktemp("chat") / "var"
    settings_env = settings_environment(data_dir, LLM_PROVIDER="local")
    migrated = run_until_exit(
        [sys.executable, "-m", "configurable_agents", "migrate"], process_environment(settings_env)
    )
    assert migrated.returncode == 0, migrated.stdout
    chat = module_launcher.start(settings_env, [sys.executable, "-m", "chat"])
    dashboard = module_launcher.start(settings_env, [sys.executable, "-m", "dashboard"])
    chat.wait_healthy(["chat"], timeout=90)
    dashboard.wait_healthy(["dashboard"], timeout=90)
    return settings_env


@pytest.fixture(scope="module")
def client(chat_env: dict[str, str]) -> Any:
    from gradio_client import Client

    return Client(f"http://127.0.0.1:{chat_env['CHAT_PORT']}/", verbose=False)


def last_reply(outputs: tuple[Any, ...]) -> str:
    message = outputs[CHAT][-1]
    content = message["content"]
    return (
        content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)
    )


def dashboard_api(chat_env: dict[str, str], path: str) -> Any:
    response = httpx.get(f"http://127.0.0.1:{chat_env['DASHBOARD_PORT']}/api/v1{path}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_request_becomes_a_saved_valid_workflow_and_a_second_turn_a_new_version(
    client: Any, chat_env: dict[str, str]
) -> None:
    request = "Write an article about a topic and then review it, at most 3 rounds"
    built = client.predict("", request, "offline", api_name="/send")

    session_id = built[SESSION]
    assert session_id
    assert validate_text(built[YAML]) == []
    config = load_config(built[YAML])
    loop = next(node for node in config.nodes if node.kind == "loop")
    assert loop.max_iterations == 3  # type: ignore[union-attr]
    assert 'data-validation="valid"' in built[STATUS]
    assert built[GRAPH].startswith("```mermaid\nflowchart TD")
    assert "Mode: offline" in last_reply(built)

    saved = client.predict(session_id, api_name="/save")
    listed = {item["name"]: item for item in dashboard_api(chat_env, "/workflows")}
    assert config.name in listed
    workflow_id = listed[config.name]["id"]
    assert listed[config.name]["latest_version"] == 1
    assert listed[config.name]["source"] == "chat"
    assert f"/workflows/{workflow_id}" in last_reply(saved)
    assert f'/workflows/{workflow_id}" target="_blank"' in saved[STATUS]

    changed = client.predict(
        session_id, "add a step that translates the article to French", "offline", api_name="/send"
    )
    assert validate_text(changed[YAML]) == []
    assert "french" in load_config(changed[YAML]).state
    client.predict(session_id, api_name="/save")

    versions = dashboard_api(chat_env, f"/workflows/{workflow_id}/versions")
    assert [item["version"] for item in versions] == [2, 1]
    assert dict(stored_workflows(app_database_url(chat_env)))[config.name] == 2


def test_a_conversation_comes_back_whole_for_a_new_page(
    client: Any, chat_env: dict[str, str]
) -> None:
    from gradio_client import Client

    first = client.predict(
        "", "Summarize a text, then translate the summary to French", "offline", api_name="/send"
    )
    session_id = first[SESSION]

    # A new page (another client) resumes the stored conversation by its id.
    other = Client(f"http://127.0.0.1:{chat_env['CHAT_PORT']}/", verbose=False)
    resumed = other.predict(session_id, api_name="/resume")

    assert resumed[SESSION] == session_id
    assert resumed[YAML] == first[YAML]
    assert len(resumed[CHAT]) == len(first[CHAT])
    choices = [value for _, value in resumed[SESSIONS]["choices"]]
    assert session_id in choices


def test_run_now_queues_a_run_the_dashboard_shows(client: Any, chat_env: dict[str, str]) -> None:
    built = client.predict("", "Summarize a text", "offline", api_name="/send")
    session_id = built[SESSION]

    ran = client.predict(session_id, '{"text": "Cats sleep most of the day."}', api_name="/run")

    reply = last_reply(ran)
    assert "is queued" in reply
    run_id = reply.split("Run `", 1)[1].split("`", 1)[0]
    run = dashboard_api(chat_env, f"/runs/{run_id}")
    assert run["inputs"] == {"text": "Cats sleep most of the day."}
    assert run["trigger"] == "chat"


def test_the_page_loads_nothing_from_outside(chat_env: dict[str, str]) -> None:
    page = httpx.get(f"http://127.0.0.1:{chat_env['CHAT_PORT']}/", timeout=10).text
    for outside in (
        "fonts.googleapis",
        "fonts.gstatic",
        "cdn.jsdelivr",
        "unpkg.com",
        "huggingface.co",
    ):
        assert outside not in page
