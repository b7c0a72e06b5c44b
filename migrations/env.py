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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_name=include_name,
            # SQLite cannot ALTER most things in place: let Alembic copy tables.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
