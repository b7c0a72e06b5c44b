"""Workflows and their versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import (
    WorkflowNameTakenError,
    WorkflowNotFoundError,
    WorkflowVersionNotFoundError,
)
from configurable_agents.storage.models import Workflow, WorkflowVersion, utcnow
from configurable_agents.storage.values import require_storable


def create(
    session: Session,
    *,
    name: str,
    config_yaml: str,
    description: str = "",
    source: str = "user",
    note: str = "",
) -> Workflow:
    """Create a workflow with its first version; WorkflowNameTakenError when the name is in use."""
    require_storable(
        {"name": name, "config_yaml": config_yaml, "description": description, "note": note}, ()
    )
    if get_by_name(session, name) is not None:
        raise WorkflowNameTakenError(f"a workflow named {name!r} already exists")
    workflow = Workflow(name=name, description=description, source=source, latest_version=1)
    workflow.versions.append(WorkflowVersion(version=1, config_yaml=config_yaml, note=note))
    session.add(workflow)
    session.flush()
    return workflow


def add_version(
    session: Session,
    workflow: Workflow,
    config_yaml: str,
    *,
    description: str | None = None,
    note: str = "",
) -> WorkflowVersion:
    """Append a new version; the same text as the latest version adds nothing."""
    require_storable({"config_yaml": config_yaml, "description": description, "note": note}, ())
    latest = get_version(session, workflow.id)
    if latest is not None and latest.config_yaml == config_yaml:
        return latest
    workflow.latest_version += 1
    version = WorkflowVersion(
        workflow_id=workflow.id, version=workflow.latest_version, config_yaml=config_yaml, note=note
    )
    if description is not None:
        workflow.description = description
    workflow.updated_at = utcnow()
    session.add(version)
    session.flush()
    return version


def save(
    session: Session,
    *,
    name: str,
    config_yaml: str,
    description: str | None = None,
    source: str = "user",
    note: str = "",
) -> tuple[Workflow, WorkflowVersion]:
    """Create the workflow, or add a version when a live one has that name.

    A description of None keeps the stored one.
    """
    workflow = get_by_name(session, name)
    if workflow is None:
        workflow = create(
            session,
            name=name,
            config_yaml=config_yaml,
            description=description or "",
            source=source,
            note=note,
        )
        return workflow, workflow.versions[0]
    return workflow, add_version(session, workflow, config_yaml, description=description, note=note)


def get(session: Session, workflow_id: int, *, include_deleted: bool = False) -> Workflow | None:
    """A workflow by id."""
    workflow = session.get(Workflow, workflow_id)
    if workflow is None or (workflow.deleted_at is not None and not include_deleted):
        return None
    return workflow


def get_by_name(session: Session, name: str) -> Workflow | None:
    """A live workflow by its unique name."""
    return session.scalar(
        select(Workflow).where(Workflow.name == name, Workflow.deleted_at.is_(None))
    )


def require(session: Session, workflow_id: int) -> Workflow:
    """A live workflow by id, or WorkflowNotFoundError."""
    workflow = get(session, workflow_id)
    if workflow is None:
        raise WorkflowNotFoundError(f"no workflow with id {workflow_id}")
    return workflow


def get_version(
    session: Session, workflow_id: int, version: int | None = None
) -> WorkflowVersion | None:
    """A given version, or the latest one."""
    query = select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id)
    if version is None:
        query = query.order_by(WorkflowVersion.version.desc()).limit(1)
    else:
        query = query.where(WorkflowVersion.version == version)
    return session.scalar(query)


def list_versions(session: Session, workflow_id: int) -> Sequence[WorkflowVersion]:
    """All versions, newest first."""
    return session.scalars(
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow_id)
        .order_by(WorkflowVersion.version.desc())
    ).all()


def list_workflows(
    session: Session, *, search: str = "", limit: int = 100, offset: int = 0
) -> Sequence[Workflow]:
    """Live workflows by name, optionally filtered by a search in name or description."""
    query = select(Workflow).where(Workflow.deleted_at.is_(None))
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(Workflow.name).like(pattern),
                func.lower(Workflow.description).like(pattern),
            )
        )
    return session.scalars(query.order_by(Workflow.name).limit(limit).offset(offset)).all()


def count(session: Session) -> int:
    """How many live workflows there are."""
    return (
        session.scalar(
            select(func.count()).select_from(Workflow).where(Workflow.deleted_at.is_(None))
        )
        or 0
    )


def soft_delete(session: Session, workflow: Workflow) -> None:
    """Hide a workflow; its runs keep pointing at it. Frees the name for reuse."""
    workflow.deleted_at = utcnow()
    # The name is unique: keep it readable but out of the way of a new workflow.
    workflow.name = f"{workflow.name}~deleted~{workflow.id}"
    session.flush()


def require_by_name(session: Session, name: str) -> Workflow:
    """A live workflow by name, or WorkflowNotFoundError."""
    workflow = get_by_name(session, name)
    if workflow is None:
        raise WorkflowNotFoundError(f"no workflow named {name!r}")
    return workflow


def require_version(session: Session, workflow_id: int, version: int) -> WorkflowVersion:
    """A version by its number, or WorkflowVersionNotFoundError."""
    found = get_version(session, workflow_id, version)
    if found is None:
        raise WorkflowVersionNotFoundError(f"workflow {workflow_id} has no version {version}")
    return found


def versions_for_diff(
    session: Session, workflow_id: int, old: int, new: int
) -> tuple[WorkflowVersion, WorkflowVersion]:
    """Both versions a diff compares, by number; WorkflowVersionNotFoundError names a missing one."""
    return require_version(session, workflow_id, old), require_version(session, workflow_id, new)


def duplicate(
    session: Session, workflow: Workflow, new_name: str, *, version: int | None = None
) -> Workflow:
    """A new workflow whose first version is a copy of ``version`` (default: the latest)."""
    number = version if version is not None else workflow.latest_version
    source = require_version(session, workflow.id, number)
    return create(
        session,
        name=new_name,
        config_yaml=source.config_yaml,
        description=workflow.description,
        note=f"copied from {workflow.name} v{source.version}",
    )
