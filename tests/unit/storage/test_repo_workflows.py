"""Workflows and versions round-trip on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.errors import (
    WorkflowNameTakenError,
    WorkflowNotFoundError,
    WorkflowVersionNotFoundError,
)
from configurable_agents.storage.models import Run, WorkflowVersion
from configurable_agents.storage.repositories import runs, workflows

CONFIG_V1 = "name: summarise\nnodes: []\n"
CONFIG_V2 = "name: summarise\nnodes: [a]\n"


def test_create_and_read_back_in_a_new_session(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        created = workflows.create(
            session, name="summarise", config_yaml=CONFIG_V1, description="Sums up", note="first"
        )
        session.commit()
        workflow_id = created.id

    with session_factory() as session:
        workflow = workflows.require(session, workflow_id)
        version = workflows.require_version(session, workflow_id, 1)
        assert (workflow.name, workflow.description, workflow.latest_version) == (
            "summarise",
            "Sums up",
            1,
        )
        assert (version.config_yaml, version.note) == (CONFIG_V1, "first")
        assert workflow.created_at.tzinfo is not None
        assert version.created_at.tzinfo is not None


def test_same_name_twice_is_a_named_error(session: Session) -> None:
    workflows.create(session, name="summarise", config_yaml=CONFIG_V1)

    with pytest.raises(WorkflowNameTakenError, match="summarise"):
        workflows.create(session, name="summarise", config_yaml=CONFIG_V2)


def test_save_adds_versions_and_skips_identical_text(session: Session) -> None:
    workflow, first = workflows.save(
        session, name="summarise", config_yaml=CONFIG_V1, description="Sums up"
    )
    _, second = workflows.save(session, name="summarise", config_yaml=CONFIG_V2, note="edit")
    _, again = workflows.save(session, name="summarise", config_yaml=CONFIG_V2)

    assert (first.version, second.version) == (1, 2)
    assert again.id == second.id
    assert workflow.latest_version == 2
    assert workflow.description == "Sums up"
    assert [v.version for v in workflows.list_versions(session, workflow.id)] == [2, 1]


def test_versions_for_diff_by_number(session: Session) -> None:
    workflow, _ = workflows.save(session, name="summarise", config_yaml=CONFIG_V1)
    workflows.save(session, name="summarise", config_yaml=CONFIG_V2)

    old, new = workflows.versions_for_diff(session, workflow.id, 1, 2)

    assert (old.config_yaml, new.config_yaml) == (CONFIG_V1, CONFIG_V2)
    with pytest.raises(WorkflowVersionNotFoundError, match="no version 7"):
        workflows.versions_for_diff(session, workflow.id, 1, 7)


def test_duplicate_copies_the_chosen_version_under_a_new_name(session: Session) -> None:
    workflow, _ = workflows.save(
        session, name="summarise", config_yaml=CONFIG_V1, description="Sums up"
    )
    workflows.save(session, name="summarise", config_yaml=CONFIG_V2)

    latest_copy = workflows.duplicate(session, workflow, "summarise-copy")
    old_copy = workflows.duplicate(session, workflow, "summarise-v1", version=1)

    assert latest_copy.latest_version == 1
    assert workflows.require_version(session, latest_copy.id, 1).config_yaml == CONFIG_V2
    assert workflows.require_version(session, old_copy.id, 1).config_yaml == CONFIG_V1
    assert latest_copy.description == "Sums up"
    assert latest_copy.versions[0].note == "copied from summarise v2"
    with pytest.raises(WorkflowNameTakenError):
        workflows.duplicate(session, workflow, "summarise-copy")


def test_list_filters_by_search_and_orders_by_name(session: Session) -> None:
    for name, description in [("zeta", "sends email"), ("alpha", "Email triage"), ("mid", "")]:
        workflows.create(session, name=name, config_yaml=CONFIG_V1, description=description)

    assert [w.name for w in workflows.list_workflows(session)] == ["alpha", "mid", "zeta"]
    assert [w.name for w in workflows.list_workflows(session, search="EMAIL")] == [
        "alpha",
        "zeta",
    ]
    assert workflows.count(session) == 3


def test_soft_delete_hides_frees_the_name_and_keeps_runs(session: Session) -> None:
    workflow = workflows.create(session, name="summarise", config_yaml=CONFIG_V1)
    run = run_lifecycle.create(
        session, workflow_name="summarise", workflow_id=workflow.id, inputs={}
    )

    workflows.soft_delete(session, workflow)

    assert workflows.get(session, workflow.id) is None
    assert workflows.get(session, workflow.id, include_deleted=True) is not None
    with pytest.raises(WorkflowNotFoundError):
        workflows.require_by_name(session, "summarise")
    assert workflows.create(session, name="summarise", config_yaml=CONFIG_V2).id != workflow.id
    assert runs.require(session, run.id).workflow_id == workflow.id


def test_hard_delete_cascades_versions_and_unlinks_runs(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        workflow, _ = workflows.save(session, name="summarise", config_yaml=CONFIG_V1)
        workflows.save(session, name="summarise", config_yaml=CONFIG_V2)
        run = run_lifecycle.create(
            session, workflow_name="summarise", workflow_id=workflow.id, inputs={}
        )
        session.commit()
        workflow_id, run_id = workflow.id, run.id
        session.delete(workflow)
        session.commit()

    with session_factory() as session:
        remaining = session.scalars(
            select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id)
        ).all()
        assert remaining == []
        kept = session.get(Run, run_id)
        assert kept is not None
        assert (kept.workflow_id, kept.workflow_name) == (None, "summarise")
