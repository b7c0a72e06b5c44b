"""Alembic helpers: where the schema is, bringing it to head under a lock, waiting for it."""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from configurable_agents.storage.database import is_sqlite
from configurable_agents.storage.errors import SchemaBehindError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Any constant works; it names this application's lock among PostgreSQL advisory locks.
_ADVISORY_LOCK_KEY = zlib.crc32(b"configurable-agents:migrate")
_REVISION_LINE = re.compile(r"^revision(?:: str)? = ['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION_LINE = re.compile(r"^down_revision(?:: [^=]+)? = ['\"]([^'\"]+)['\"]", re.MULTILINE)


@dataclass(frozen=True)
class SchemaState:
    """Where the database schema stands against the code's migrations."""

    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def _alembic_config(engine: Engine | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


@cache
def head_revision() -> str:
    """The head revision of the migrations that ship with the code.

    Read from the revision files' ``revision``/``down_revision`` lines instead of
    importing Alembic (about 0.1 s): `configurable-agents status` must start fast. A
    test checks this agrees with Alembic's own ScriptDirectory.
    """
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = _REVISION_LINE.search(text)
        if revision is None:
            continue
        down = _DOWN_REVISION_LINE.search(text)
        revisions[revision.group(1)] = down.group(1) if down else None
    heads = set(revisions) - {down for down in revisions.values() if down}
    if len(heads) != 1:
        raise RuntimeError(
            f"expected one migration head in {MIGRATIONS_DIR}, found {sorted(heads)}"
        )
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The revision stored in the database, or None for an empty database."""
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    except (OperationalError, ProgrammingError) as error:
        # A missing table means an empty database; anything else is a real failure.
        message = str(error.orig or error).lower()
        if "alembic_version" in message and (
            "no such table" in message or "does not exist" in message
        ):
            return None
        raise
    return row[0] if row else None


def schema_state(engine: Engine) -> SchemaState:
    """The current and head revisions."""
    return SchemaState(current=current_revision(engine), head=head_revision())


@contextmanager
def migration_lock(engine: Engine, lock_dir: Path) -> Iterator[None]:
    """One migrator at a time: a file lock for SQLite, an advisory lock for PostgreSQL."""
    if is_sqlite(str(engine.url)):
        from filelock import FileLock

        database = engine.url.database or "memory"
        lock_path = lock_dir / (Path(database).name + ".migrate.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_path), timeout=300):
            yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            connection.commit()


def upgrade_to_head(engine: Engine, lock_dir: Path) -> SchemaState:
    """Run every pending migration under the migration lock; safe to call concurrently."""
    from alembic import command

    with migration_lock(engine, lock_dir):
        state = schema_state(engine)
        if not state.at_head:
            command.upgrade(_alembic_config(engine), "head")
        return schema_state(engine)


def wait_for_head(engine: Engine, timeout: float, poll: float = 0.2) -> SchemaState:
    """Wait up to ``timeout`` seconds for the release step to bring the schema to head."""
    deadline = time.monotonic() + timeout
    while True:
        state = schema_state(engine)
        if state.at_head:
            return state
        if time.monotonic() >= deadline:
            raise SchemaBehindError(
                f"database schema is at {state.current or 'empty'}, the code needs {state.head}; "
                "run `configurable-agents migrate` (or start the set with `honcho start`, "
                "whose release step migrates)"
            )
        time.sleep(poll)
