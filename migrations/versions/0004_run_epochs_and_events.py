"""run epochs, enqueue times and run events: fenced claims and a reconciled queue

Every claim of a run takes a new epoch (``runs.epoch``); a worker's step writes and state
changes are compare-and-sets on it. ``runs.enqueued_at`` is when the run was last handed
to the queue: the reconciler wakes queued runs whose message was lost. ``run_events`` is
the run's timeline (claimed, re-enqueued and why, taken over ...).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 07:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_runs_state_enqueued_at", ["state", "enqueued_at"])
    # Runs already queued count as enqueued when they were created: the reconciler wakes
    # them if their message is gone.
    op.execute("UPDATE runs SET enqueued_at = created_at WHERE state = 'queued'")
    with op.batch_alter_table("run_steps") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer(), nullable=True))
    op.create_table(
        "run_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_events_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
    )
    op.create_index("ix_run_events_run_id_id", "run_events", ["run_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_run_events_run_id_id", table_name="run_events")
    op.drop_table("run_events")
    with op.batch_alter_table("run_steps") as batch:
        batch.drop_column("epoch")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_state_enqueued_at")
        batch.drop_column("enqueued_at")
        batch.drop_column("epoch")
