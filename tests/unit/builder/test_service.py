"""Conversations in the database (SQLite and PostgreSQL): messages stored before any
work, Save as a new workflow or a new version, Edit in chat, undo, Run now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.builder import Builder, Gallery
from configurable_agents.builder.service import ChatService
from configurable_agents.queue.huey_app import get_huey
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage.models import Run
from configurable_agents.storage.repositories import workflows
from tests.conftest import free_port
from tests.unit.builder.conftest import drain


def make_service(settings: Settings, session_factory: sessionmaker[Session]) -> ChatService:
    # The rules alone: these tests are about storage, not about the model's wording.
    return ChatService(
        settings, session_factory, Builder(settings, Gallery.load(), fill_budget_seconds=0)
    )


@pytest.fixture
def settings(data_dir: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=data_dir, database_url=database_url, llm_provider="local", dashboard_port=7861
    )


@pytest.fixture
def service(settings: Settings, session_factory: sessionmaker[Session]) -> ChatService:
    return make_service(settings, session_factory)


def send(service: ChatService, session_id: str | None, text: str):  # type: ignore[no-untyped-def]
    return drain(service.send(session_id, text))[1]


def test_a_turn_stores_both_messages_and_the_valid_config(service: ChatService) -> None:
    turn = send(
        service, None, "Write an article about a topic and then review it, at most 3 rounds"
    )

    view = turn.view
    assert [m.role for m in view.messages] == ["user", "assistant"]
    assert view.messages[0].content.startswith("Write an article")
    assert view.messages[1].meta["mode"] == "offline"
    assert view.messages[1].meta["progress"][0] == "reading the request into steps"
    assert view.config is not None and view.config.name == "write-and-review"
    assert view.title.startswith("Write an article about a topic")
    # A returning user finds it in the list and gets the same conversation back.
    assert [s.id for s in service.list_sessions()] == [view.session_id]
    assert service.view(view.session_id).messages == view.messages


def test_save_creates_the_workflow_then_a_new_version_each_time_it_changes(
    service: ChatService, session_factory: sessionmaker[Session]
) -> None:
    first = send(service, None, "Summarize a text, then translate the summary to Spanish")
    session_id = first.view.session_id

    saved = service.save(session_id).view
    reply = saved.messages[-1].content
    assert saved.workflow_id is not None and saved.workflow_version == 1
    assert (
        f"[Open it in the dashboard](http://127.0.0.1:7861/workflows/{saved.workflow_id})" in reply
    )

    send(service, session_id, "add a step that translates the summary to German")
    again = service.save(session_id).view
    assert (again.workflow_id, again.workflow_version) == (saved.workflow_id, 2)
    with session_factory() as session:
        versions = workflows.list_versions(session, saved.workflow_id)
        assert [v.version for v in versions] == [2, 1]
        assert "german" in versions[0].config_yaml and "german" not in versions[1].config_yaml
        assert workflows.get(session, saved.workflow_id).source == "chat"  # type: ignore[union-attr]


def test_a_name_used_by_another_workflow_is_not_overwritten(
    service: ChatService, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        workflows.create(session, name="summarize-and-translate", config_yaml="x", source="example")
        session.commit()
    turn = send(service, None, "Summarize a text, then translate the summary to French")

    saved = service.save(turn.view.session_id).view

    assert saved.workflow_name == "summarize-and-translate-2"
    assert "belongs to another workflow" in saved.messages[-1].content
    with session_factory() as session:
        example = workflows.get_by_name(session, "summarize-and-translate")
        assert example is not None and example.latest_version == 1


def test_edit_in_chat_loads_the_workflow_and_saves_a_new_version(
    service: ChatService, session_factory: sessionmaker[Session]
) -> None:
    text = Path("examples/summarize.yaml").read_text()
    with session_factory() as session:
        workflow = workflows.create(session, name="summarize", config_yaml=text, source="example")
        session.commit()
        workflow_id = workflow.id

    opened = service.open_workflow(workflow_id).view
    assert opened.workflow_id == workflow_id and opened.config.name == "summarize"  # type: ignore[union-attr]
    assert "Loaded **summarize** v1" in opened.messages[0].content
    # Opening it again from the same page resumes the same conversation.
    assert (
        service.open_workflow(workflow_id, current_session=opened.session_id).view.session_id
        == opened.session_id
    )

    send(service, opened.session_id, "add a step that translates the summary to French")
    saved = service.save(opened.session_id).view
    assert (saved.workflow_id, saved.workflow_version) == (workflow_id, 2)

    missing = service.open_workflow(workflow_id + 1000)
    assert not missing.ok and "no workflow with id" in missing.view.messages[-1].content


def test_undo_goes_back_one_change_at_a_time(service: ChatService) -> None:
    first = send(service, None, "Summarize a text")
    session_id = first.view.session_id
    send(service, session_id, "add a step that translates the summary to French")
    send(service, session_id, "rename it to my flow")

    assert send(service, session_id, "undo").view.config.name == "summarize"  # type: ignore[union-attr]
    undone = send(service, session_id, "undo").view
    assert [n.id for n in undone.config.nodes] == ["summarize"]  # type: ignore[union-attr]
    assert send(service, session_id, "undo").view.config is None
    assert "nothing to undo" in send(service, session_id, "undo").view.messages[-1].content


def test_run_now_saves_checks_the_inputs_and_queues_a_run(
    service: ChatService, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    session_id = send(service, None, "Summarize a text").view.session_id

    wrong = service.run(session_id, json.dumps({"txt": "hello"}))
    assert not wrong.ok
    assert "unknown input 'txt'" in wrong.view.messages[-1].content
    assert "missing required input 'text'" in wrong.view.messages[-1].content

    queued = service.run(session_id, json.dumps({"text": "Cats sleep a lot."})).view
    assert queued.workflow_id is not None  # saved on the way
    run_id = queued.messages[-1].meta["run"]["run_id"]
    assert f"http://127.0.0.1:7861/runs/{run_id}" in queued.messages[-1].content
    with session_factory() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.state == "queued" and run.trigger == "chat"
        assert run.inputs == {"text": "Cats sleep a lot."}
    assert get_huey(settings).pending_count() == 1


def test_your_own_yaml_edit_is_checked_and_kept_only_when_valid(service: ChatService) -> None:
    session_id = send(service, None, "Summarize a text").view.session_id
    before = service.view(session_id).config_yaml

    broken = service.apply_yaml(session_id, before.replace("output: summary", "output: summry"))  # type: ignore[union-attr]
    assert not broken.ok and broken.view.config_yaml == before
    assert any(":" in issue and "summry" in issue for issue in broken.issues)

    fixed = service.apply_yaml(session_id, before.replace("name: summarize", "name: mine"))  # type: ignore[union-attr]
    assert fixed.ok and fixed.view.config.name == "mine"  # type: ignore[union-attr]


def test_an_unreachable_llm_loses_nothing_typed(
    data_dir: Path, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = load_settings(
        data_dir=data_dir,
        database_url=database_url,
        llm_provider="openai",
        llm_model="m",
        llm_base_url=url,
    )
    service = make_service(settings, session_factory)

    turn = send(service, None, "Summarize a text, then translate it")

    assert not turn.ok and turn.restore_input
    user, reply = turn.view.messages
    assert user.content == "Summarize a text, then translate it"
    assert url in reply.content and "LLM_BASE_URL" in reply.content


def test_a_pasted_key_is_never_stored(service: ChatService) -> None:
    turn = send(service, None, "Summarize a text, my key is sk-proj-abcdefghijklmnop123456")
    stored = " ".join(m.content for m in turn.view.messages)
    assert "sk-proj" not in stored and "[redacted key]" in stored
