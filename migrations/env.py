"""Alembic environment: uses the engine handed over by the caller, or DATABASE_URL."""

from __future__ import annotations

from alembic import context

from configurable_agents.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _engine():  # type: ignore[no-untyped-def]
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    # Run as plain `alembic` from the command line: read the same settings as the apps.
    from configurable_agents.settings import load_settings
    from configurable_agents.storage.database import create_db_engine

    return create_db_engine(load_settings().effective_database_url)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # LangGraph's checkpointer owns its tables in the same PostgreSQL database.
    return not (type_ == "table" and name is not None and name.startswith("checkpoint"))


def run_migrations_offline() -> None:
    context.configure(url=str(_engine().url), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration copies a table, drops it and renames the copy: with foreign
            # keys on, SQLite would cascade the drop to the rows of every child table (run
            # steps, experiment results). The pragma only works outside a transaction, so
            # it is set on the driver's connection before Alembic begins one.
            _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_name=include_name,
            # SQLite cannot ALTER most things in place: let Alembic copy tables.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(connection, statement: str) -> None:  # type: ignore[no-untyped-def]
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
