"""experiments that run: datasets (versioned), cells with scores, runs marked as cells

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_datasets_workflow_id_workflows"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_datasets_name_version")),
    )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dataset_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("definition", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("baseline", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("judge_cost", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("mlflow_status", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_experiments_dataset_id_datasets"),
            "datasets",
            ["dataset_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("experiment_variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workflow_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("config_yaml", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_experiment_variants_workflow_version_id_workflow_versions"),
            "workflow_versions",
            ["workflow_version_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("experiment_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repeat", sa.Integer(), nullable=False, server_default="0"))
        # Results stored before cells existed were finished outcomes.
        batch_op.add_column(
            sa.Column("state", sa.String(length=20), nullable=False, server_default="scored")
        )
        batch_op.add_column(sa.Column("scores", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("latency_ms", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("cost", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("judge_cost", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_experiment_results_run_id", ["run_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_experiment_results_variant_id_item_index_repeat"),
            ["variant_id", "item_index", "repeat"],
        )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("experiment_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_runs_experiment_id_experiments"),
            "experiments",
            ["experiment_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_runs_experiment_id", ["experiment_id"], unique=False)
    # The defaults only filled the rows already there; the models set every value.
    for table, columns in (
        ("experiments", ("definition", "repeats", "judge_cost")),
        ("experiment_results", ("repeat", "state", "scores", "latency_ms", "cost", "judge_cost")),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_experiment_id")
        batch_op.drop_constraint(
            batch_op.f("fk_runs_experiment_id_experiments"), type_="foreignkey"
        )
        batch_op.drop_column("experiment_id")
    with op.batch_alter_table("experiment_results", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_experiment_results_variant_id_item_index_repeat"), type_="unique"
        )
        batch_op.drop_index("ix_experiment_results_run_id")
        for column in (
            "finished_at",
            "judge_cost",
            "cost",
            "latency_ms",
            "scores",
            "state",
            "repeat",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("experiment_variants", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_experiment_variants_workflow_version_id_workflow_versions"),
            type_="foreignkey",
        )
        batch_op.drop_column("config_yaml")
        batch_op.drop_column("workflow_version_id")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_experiments_dataset_id_datasets"), type_="foreignkey"
        )
        for column in (
            "finished_at",
            "started_at",
            "mlflow_status",
            "judge_cost",
            "baseline",
            "repeats",
            "definition",
            "dataset_id",
        ):
            batch_op.drop_column(column)
    op.drop_table("datasets")
