"""tracking outbox and trigger outcomes: MLflow records stored with the run's end, and what
came of every webhook delivery or schedule tick (started, skipped, refused)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracking_outbox",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_tracking_outbox_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_tracking_outbox")),
    )
    op.create_index(
        "ix_tracking_outbox_state_next_attempt_at",
        "tracking_outbox",
        ["state", "next_attempt_at"],
    )
    op.add_column(
        "trigger_events",
        sa.Column("outcome", sa.String(length=20), nullable=False, server_default="started"),
    )
    # Deliveries refused before this revision keep saying so.
    op.execute("UPDATE trigger_events SET outcome = 'refused' WHERE status = 'rejected'")


def downgrade() -> None:
    with op.batch_alter_table("trigger_events") as batch:
        batch.drop_column("outcome")
    op.drop_index("ix_tracking_outbox_state_next_attempt_at", table_name="tracking_outbox")
    op.drop_table("tracking_outbox")
