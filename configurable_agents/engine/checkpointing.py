"""LangGraph checkpointers matching DATABASE_URL: SQLite file or the PostgreSQL database.

A run's thread id is its run id; a checkpoint after every step lets an interrupted run
resume from its last completed step, and lets human approval survive restarts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from configurable_agents.settings import Settings

# LangGraph's own tables; Alembic leaves them alone (see migrations/env.py).
CHECKPOINT_TABLE_PREFIX = "checkpoint"
_SETUP_LOCK_KEY = 0x43415354  # any constant unique to this purpose


def checkpoint_url(settings: Settings) -> str:
    """Where checkpoints go: a SQLite file beside the app database, or the PostgreSQL database."""
    url = settings.effective_database_url
    if url.startswith("postgresql"):
        return "postgresql://" + url.split("://", 1)[1]
    return f"sqlite:///{settings.data_path / 'checkpoints.db'}"


@contextmanager
def open_checkpointer(settings: Settings) -> Iterator[BaseCheckpointSaver]:
    """A checkpointer shared by every run of this process; closed on exit."""
    url = checkpoint_url(settings)
    if url.startswith("sqlite"):
        from langgraph.checkpoint.sqlite import SqliteSaver

        settings.ensure_data_dir()
        # One connection shared by the worker threads; SqliteSaver serialises with a lock.
        connection = sqlite3.connect(
            url.removeprefix("sqlite:///"), check_same_thread=False, timeout=30
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA busy_timeout=30000")
        # WAL + NORMAL survives a killed process (what resuming needs) without an fsync per
        # step; a lost checkpoint only means replaying stored steps by their keys.
        connection.execute("PRAGMA synchronous=NORMAL")
        try:
            saver = SqliteSaver(connection)
            saver.setup()
            yield saver
        finally:
            connection.close()
        return

    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    with ConnectionPool(url, kwargs=kwargs, min_size=1, max_size=8, open=True) as pool:
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        with _one_setup_at_a_time(pool):
            saver.setup()
        yield saver


@contextmanager
def _one_setup_at_a_time(pool: Any, timeout: float = 60.0) -> Iterator[None]:
    """PostgresSaver.setup() fails with a unique violation when two processes create its
    tables at the same moment (three workers starting on a fresh database).

    The advisory lock is polled on an autocommit connection: a lock waited for inside a
    statement or transaction would block setup's own CREATE INDEX CONCURRENTLY.
    """
    with pool.connection() as connection:
        deadline = time.monotonic() + timeout
        while not connection.execute(
            "SELECT pg_try_advisory_lock(%s) AS got", (_SETUP_LOCK_KEY,)
        ).fetchone()["got"]:
            if time.monotonic() > deadline:  # a stuck peer must not stop this process
                break
            time.sleep(0.1)
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
