"""Datasets: named, versioned lists of rows ({"inputs": ..., "expected": ...})."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import DatasetNotFoundError
from configurable_agents.storage.models import Dataset
from configurable_agents.storage.values import require_storable


def add_version(
    session: Session,
    *,
    name: str,
    rows: list[dict[str, Any]],
    source: str = "",
    workflow_id: int | None = None,
) -> Dataset:
    """Store the rows as the next version of the dataset ``name`` (version 1 when new)."""
    require_storable({"name": name, "rows": rows, "source": source}, ())
    latest = session.scalar(select(func.max(Dataset.version)).where(Dataset.name == name)) or 0
    dataset = Dataset(
        name=name, version=latest + 1, rows=rows, source=source, workflow_id=workflow_id
    )
    session.add(dataset)
    session.flush()
    return dataset


def get(session: Session, name: str, version: int | None = None) -> Dataset:
    """A dataset version (the latest when ``version`` is None), or DatasetNotFoundError."""
    query = select(Dataset).where(Dataset.name == name)
    if version is not None:
        query = query.where(Dataset.version == version)
    found = session.scalar(query.order_by(Dataset.version.desc()).limit(1))
    if found is None:
        which = f" version {version}" if version is not None else ""
        raise DatasetNotFoundError(f"no dataset {name!r}{which}")
    return found


def get_by_id(session: Session, dataset_id: int) -> Dataset:
    """A dataset version by id, or DatasetNotFoundError."""
    found = session.get(Dataset, dataset_id)
    if found is None:
        raise DatasetNotFoundError(f"no dataset with id {dataset_id}")
    return found


def list_latest(session: Session, *, limit: int = 200) -> Sequence[Dataset]:
    """The latest version of every dataset, by name."""
    latest = (
        select(Dataset.name, func.max(Dataset.version).label("version"))
        .group_by(Dataset.name)
        .subquery()
    )
    return session.scalars(
        select(Dataset)
        .join(latest, (Dataset.name == latest.c.name) & (Dataset.version == latest.c.version))
        .order_by(Dataset.name)
        .limit(limit)
    ).all()


def list_versions(session: Session, name: str) -> Sequence[Dataset]:
    """Every version of a dataset, oldest first."""
    return session.scalars(
        select(Dataset).where(Dataset.name == name).order_by(Dataset.version)
    ).all()
