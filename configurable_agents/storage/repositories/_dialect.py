"""The dialect-specific INSERT that knows ON CONFLICT, for upserts and idempotent inserts."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session


def insert(session: Session, model: type[DeclarativeBase]) -> postgresql.Insert | sqlite.Insert:
    """INSERT for the session's database; both dialects spell ON CONFLICT the same way."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"ON CONFLICT inserts are not written for the {dialect} dialect")
