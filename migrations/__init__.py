"""Alembic environment and revisions (one history for SQLite and PostgreSQL)."""
