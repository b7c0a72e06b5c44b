"""SQLAlchemy 2.0 typed models for every aggregate the platform stores.

Every change here needs an Alembic revision in migrations/versions.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from configurable_agents.storage.states import RunState

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random hex identifier for rows that are referenced from outside (runs, agents)."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware datetimes (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations are stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


# --- workflows -----------------------------------------------------------------------------


class Workflow(Base):
    """A named workflow; its configs live in versions."""

    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Where it came from: "example" (seeded), "user", "chat".
    source: Mapped[str] = mapped_column(String(20), default="user")
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Soft delete: runs keep pointing at a deleted workflow.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    versions: Mapped[list[WorkflowVersion]] = relationship(
        back_populates="workflow", order_by="WorkflowVersion.version", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_workflows_deleted_at_name", "deleted_at", "name"),)


class WorkflowVersion(Base):
    """One immutable config text of a workflow."""

    __tablename__ = "workflow_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    config_yaml: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    workflow: Mapped[Workflow] = relationship(back_populates="versions")

    __table_args__ = (UniqueConstraint("workflow_id", "version"),)


# --- runs ----------------------------------------------------------------------------------


class Run(Base):
    """One execution of a workflow version."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"))
    workflow_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflow_versions.id", ondelete="SET NULL")
    )
    # Kept so a run stays readable after its workflow is deleted.
    workflow_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default=RunState.QUEUED)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error_type: Mapped[str | None] = mapped_column(String(200), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    # Where the run was started from: cli, dashboard, api, webhook, schedule, chat.
    trigger: Mapped[str] = mapped_column(String(20), default="cli")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by every claim: a worker's step writes and state changes are compare-and-sets
    # on the epoch it claimed, so a worker whose claim went stale writes nothing more.
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the run was last handed to the queue; the reconciler wakes a queued run whose
    # message was lost (queue flushed, enqueue failed after commit).
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_cost: Mapped[float] = mapped_column(Float, default=0.0)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # Set on the runs that are cells of an experiment: hidden from the default runs list.
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="SET NULL"), default=None
    )
    # "logged", "skipped: <reason>", or None when not attempted yet.
    tracking_status: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    steps: Mapped[list[RunStep]] = relationship(
        back_populates="run", order_by="RunStep.seq", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_state_created_at", "state", "created_at"),
        Index("ix_runs_workflow_id_created_at", "workflow_id", "created_at"),
        Index("ix_runs_state_lease_expires_at", "state", "lease_expires_at"),
        Index("ix_runs_state_enqueued_at", "state", "enqueued_at"),
        Index("ix_runs_experiment_id", "experiment_id"),
    )


class RunStep(Base):
    """One node execution inside a run."""

    __tablename__ = "run_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    node: Mapped[str] = mapped_column(String(200))
    # "<node>#<visit>": the same key on a resumed run means the step already ran.
    step_key: Mapped[str | None] = mapped_column(String(255), default=None)
    kind: Mapped[str] = mapped_column(String(20), default="llm")
    state: Mapped[str] = mapped_column(String(20), default="completed")
    input: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    rendered_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    raw_output: Mapped[str | None] = mapped_column(Text, default=None)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    provider: Mapped[str | None] = mapped_column(String(50), default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    # The claim epoch of the worker that wrote the step (None: written without a claim).
    epoch: Mapped[int | None] = mapped_column(Integer, default=None)
    error_type: Mapped[str | None] = mapped_column(String(200), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    run: Mapped[Run] = relationship(back_populates="steps")

    __table_args__ = (
        UniqueConstraint("run_id", "seq"),
        Index("ix_run_steps_started_at", "started_at"),
        Index("ix_run_steps_run_id_step_key", "run_id", "step_key"),
    )


class RunEvent(Base):
    """One entry of a run's timeline: claimed, re-enqueued (and why), taken over, refused."""

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # "enqueued", "reconciled", "claimed", "requeued", "taken_over", "stale_claim" ...
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    epoch: Mapped[int | None] = mapped_column(Integer, default=None)

    __table_args__ = (Index("ix_run_events_run_id_id", "run_id", "id"),)


class TrackingRecord(Base):
    """The MLflow record of a finished run: stored with the run's end, sent by a worker.

    ``state`` is "pending" until a sender delivered it ("sent") or MLflow refused it for
    good ("failed"); ``last_error`` says why the latest attempt did not deliver it. A
    sender claims a row (``claimed_by`` until ``claimed_until``) before it sends, so two
    workers never send the same record at once.
    """

    __tablename__ = "tracking_outbox"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_tracking_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )


# --- agents --------------------------------------------------------------------------------


class Agent(Base):
    """A worker of this set or a registered remote agent, kept alive by heartbeats."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    # "worker" or "remote".
    kind: Mapped[str] = mapped_column(String(20), default="worker")
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    version: Mapped[str] = mapped_column(String(50), default="")
    url: Mapped[str | None] = mapped_column(Text, default=None)
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    runs_in_progress: Mapped[int] = mapped_column(Integer, default=0)
    ttl_seconds: Mapped[float] = mapped_column(Float, default=15.0)
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Hash of the remote agent's token; never the token itself.
    token_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_heartbeat: Mapped[datetime] = mapped_column(default=utcnow)
    deregistered_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_agents_kind_last_heartbeat", "kind", "last_heartbeat"),
        Index("ix_agents_name", "name"),
    )


# --- chat ----------------------------------------------------------------------------------


class ChatSession(Base):
    """A conversation in the chat builder."""

    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200), default="New workflow")
    workflow_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"), default=None
    )
    # The last valid config of the conversation.
    config_yaml: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    messages: Mapped[list[ChatMessage]] = relationship(
        back_populates="session", order_by="ChatMessage.id", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_chat_sessions_updated_at", "updated_at"),)


class ChatMessage(Base):
    """One message of a chat session."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    # Extra facts about the message: mode that produced it, config shown, errors.
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[ChatSession] = relationship(back_populates="messages")

    __table_args__ = (Index("ix_chat_messages_session_id_id", "session_id", "id"),)


# --- experiments ---------------------------------------------------------------------------


class Dataset(Base):
    """One version of a named dataset: rows of workflow inputs with optional expected values.

    A version never changes; importing or adding a row makes the next version.
    """

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    workflow_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"), default=None
    )
    # Where the rows came from: the uploaded file's name, or "run <id>".
    source: Mapped[str] = mapped_column(Text, default="")
    # Each row: {"inputs": {...}, "expected": {...}}.
    rows: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("name", "version"),)


class Experiment(Base):
    """A comparison of workflow variants over a dataset of inputs."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    workflow_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"), default=None
    )
    description: Mapped[str] = mapped_column(Text, default="")
    # The rows compared (a copy of the dataset version's rows, so results stay readable).
    dataset: Mapped[list[Any]] = mapped_column(default=list)
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # The validated definition (scorers, gates, repeats, baseline, seed, judge) as data.
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    baseline: Mapped[str | None] = mapped_column(String(200), default=None)
    # What the LLM judges cost, counted apart from the cells' own runs.
    judge_cost: Mapped[float] = mapped_column(Float, default=0.0)
    mlflow_status: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    variants: Mapped[list[ExperimentVariant]] = relationship(
        back_populates="experiment", order_by="ExperimentVariant.id", cascade="all, delete-orphan"
    )
    results: Mapped[list[ExperimentResult]] = relationship(
        back_populates="experiment", order_by="ExperimentResult.id", cascade="all, delete-orphan"
    )


class ExperimentVariant(Base):
    """One arm of an experiment: overrides applied to the workflow (prompt, model, ...)."""

    __tablename__ = "experiment_variants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The workflow version the variant starts from, and its config with the overrides
    # applied: what the cells of this variant run.
    workflow_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflow_versions.id", ondelete="SET NULL"), default=None
    )
    config_yaml: Mapped[str | None] = mapped_column(Text, default=None)

    experiment: Mapped[Experiment] = relationship(back_populates="variants")

    __table_args__ = (UniqueConstraint("experiment_id", "name"),)


class ExperimentResult(Base):
    """One cell of an experiment: a variant on one dataset row, one repeat; its run and scores."""

    __tablename__ = "experiment_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("experiment_variants.id", ondelete="CASCADE")
    )
    item_index: Mapped[int] = mapped_column(Integer)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    # pending (its run queued or running), scored, failed (its run failed), cancelled.
    state: Mapped[str] = mapped_column(String(20), default="scored")
    run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), default=None
    )
    score: Mapped[float | None] = mapped_column(Float, default=None)
    # Scorer name -> value in [0, 1] (None when the scorer could not judge).
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    judge_cost: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    experiment: Mapped[Experiment] = relationship(back_populates="results")

    __table_args__ = (
        Index("ix_experiment_results_experiment_id_variant_id", "experiment_id", "variant_id"),
        Index("ix_experiment_results_run_id", "run_id"),
        UniqueConstraint("variant_id", "item_index", "repeat"),
    )


# --- memory --------------------------------------------------------------------------------


class MemoryEntry(Base):
    """A namespaced key/value a workflow keeps across its runs."""

    __tablename__ = "memory_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Memory belongs to the workflow by name, so it survives new versions.
    workflow_name: Mapped[str] = mapped_column(String(200))
    namespace: Mapped[str] = mapped_column(String(200), default="default")
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("workflow_name", "namespace", "key"),)


# --- triggers ------------------------------------------------------------------------------


class TriggerEvent(Base):
    """A webhook delivery or schedule tick; the key makes repeats idempotent."""

    __tablename__ = "trigger_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_name: Mapped[str] = mapped_column(String(200))
    # "webhook" or "schedule".
    kind: Mapped[str] = mapped_column(String(20))
    # Delivery id for webhooks, "<cron>@<tick time>" for schedules.
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # "accepted" or "rejected"; a repeat of an accepted key is reported, not stored.
    status: Mapped[str] = mapped_column(String(20), default="accepted")
    detail: Mapped[str] = mapped_column(Text, default="")
    # What came of it: "started" (a run), "skipped" (a schedule tick missed and not caught
    # up), "refused" (inputs, full queue, bad request; the detail says which).
    outcome: Mapped[str] = mapped_column(String(20), default="started", server_default="started")
    run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), default=None
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # Unique among accepted deliveries only: a rejected delivery is kept for the record
        # and must not block a later good delivery with the same key.
        Index(
            "uq_trigger_events_accepted_key",
            "workflow_name",
            "kind",
            "idempotency_key",
            unique=True,
            sqlite_where=text("status = 'accepted'"),
            postgresql_where=text("status = 'accepted'"),
        ),
        Index("ix_trigger_events_received_at", "received_at"),
    )


# --- serving -------------------------------------------------------------------------------


class ApiKey(Base):
    """A key a program sends to the run API and /v1: only its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the key ("ca_" and a few more): enough to tell keys apart.
    prefix: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        # One live key per name; a revoked key keeps its name for the record.
        Index(
            "uq_api_keys_live_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class RunWatch(Base):
    """Someone follows this run live (a page, an API stream, a CLI) until ``expires_at``.

    Watchers renew the row; the executing process publishes tokens only while one is live,
    so a run nobody watches costs no extra writes.
    """

    __tablename__ = "run_watches"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)


class StepPartial(Base):
    """The text an llm step has produced so far, while it runs and someone watches.

    Written at most every ~100 ms by the executing process; the finished step is stored in
    run_steps as always (this row is only a window on the step in progress).
    """

    __tablename__ = "step_partials"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    node: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Which execution of the node (a loop runs it again): the text restarts with it.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefusalCount(Base):
    """Refused requests nobody authenticated (a webhook with a bad signature, to an unknown
    name, too large ...): counted per source, subject and reason, never stored one row each,
    so a flood of bad posts changes a number instead of filling the database."""

    __tablename__ = "refusal_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Which door refused: "webhook".
    source: Mapped[str] = mapped_column(String(20))
    # What was knocked on: a stored workflow's name, or "" for a name that is not stored.
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    # One of a fixed set of reasons (never text from the request).
    reason: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("source", "subject", "status", "reason"),)
