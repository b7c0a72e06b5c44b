"""Run steps: one row per node execution, recorded as it finishes, rolled up into its run.

:func:`record` is the one way a step is written (llm, tool, agent, approval and tool-call
steps alike). A worker passes the claim ``epoch`` it holds: the write is then a
compare-and-set on the run's epoch, and a worker whose claim went stale gets
StaleClaimError instead of a row. The step log (keys ``node#visit``) is the record a
resumed run replays from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.errors import RunNotFoundError, StepNotFoundError
from configurable_agents.storage.models import Run, RunState, RunStep, utcnow

COMPLETED = "completed"
FAILED = "failed"
SKIPPED = "skipped"
# An approval step waits for a person; it becomes completed once decided.
AWAITING_APPROVAL = "awaiting_approval"
STATES = (COMPLETED, FAILED, SKIPPED, AWAITING_APPROVAL)


def record(
    session: Session,
    run_id: str,
    *,
    node: str,
    step_key: str | None = None,
    kind: str = "llm",
    state: str = COMPLETED,
    input: dict[str, Any] | None = None,
    rendered_prompt: str | None = None,
    raw_output: str | None = None,
    output: dict[str, Any] | None = None,
    provider: str | None = None,
    model: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost: float = 0.0,
    latency_ms: float = 0.0,
    attempt: int | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    epoch: int | None = None,
) -> RunStep:
    """Store a finished step with the next sequence number and update the run's totals.

    ``attempt`` defaults to the run's current attempt. The run row is locked while the
    sequence number is taken, so parallel branches of one run never collide. With
    ``epoch`` the step is written only while that claim holds the running run
    (StaleClaimError otherwise, nothing written).
    """
    if state not in STATES:
        raise ValueError(f"step state must be one of {', '.join(STATES)}, got {state!r}")
    # One statement locks the run row, checks the claim, adds the step to its totals (equal
    # to roll_up's sums, without a SUM over every step) and reads the run back fresh.
    run = _lock_run(
        session, run_id, tokens=prompt_tokens + completion_tokens, cost=cost, epoch=epoch
    )
    finished = finished_at or utcnow()
    step = RunStep(
        run=run,
        seq=next_seq(session, run_id),
        node=node,
        step_key=step_key,
        kind=kind,
        state=state,
        input=input,
        rendered_prompt=rendered_prompt,
        raw_output=raw_output,
        output=output,
        provider=provider,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=cost,
        latency_ms=latency_ms,
        attempt=attempt if attempt is not None else max(run.attempts, 1),
        epoch=epoch,
        error_type=error_type,
        error_message=error_message,
        started_at=started_at or finished,
        finished_at=finished,
    )
    session.add(step)
    session.flush()
    return step


# Built once: every step write runs them, and building a statement (coercing each clause)
# costs more CPU than SQLite takes to execute it. SQLAlchemy caches their compiled form.
_LAST_SEQ = select(func.max(RunStep.seq)).where(RunStep.run_id == bindparam("b_run_id"))
_ADD_TO_RUN = (
    update(Run)
    .where(Run.id == bindparam("b_run_id"))
    .values(
        total_tokens=func.coalesce(Run.total_tokens, 0) + bindparam("b_tokens"),
        total_cost=func.coalesce(Run.total_cost, 0.0) + bindparam("b_cost"),
    )
    .returning(Run)
    .execution_options(populate_existing=True, synchronize_session=False)
)
_ADD_TO_CLAIMED_RUN = _ADD_TO_RUN.where(
    Run.epoch == bindparam("b_epoch"), Run.state == RunState.RUNNING
)


def next_seq(session: Session, run_id: str) -> int:
    """The sequence number the next step of the run gets (1 for the first)."""
    last = session.scalar(_LAST_SEQ, {"b_run_id": run_id})
    return (last or 0) + 1


def roll_up(session: Session, run: Run) -> Run:
    """Recompute the run's token and cost totals from its steps (idempotent)."""
    tokens, cost = session.execute(
        select(
            func.coalesce(func.sum(RunStep.prompt_tokens + RunStep.completion_tokens), 0),
            func.coalesce(func.sum(RunStep.cost), 0.0),
        ).where(RunStep.run_id == run.id)
    ).one()
    run.total_tokens, run.total_cost = int(tokens), float(cost)
    session.flush()
    return run


def list_for_run(
    session: Session, run_id: str, *, attempt: int | None = None, state: str | None = None
) -> Sequence[RunStep]:
    """The run's steps in the order they finished, optionally of one attempt or state."""
    query = select(RunStep).where(RunStep.run_id == run_id)
    if attempt is not None:
        query = query.where(RunStep.attempt == attempt)
    if state is not None:
        query = query.where(RunStep.state == state)
    return session.scalars(query.order_by(RunStep.seq)).all()


def get(session: Session, run_id: str, seq: int) -> RunStep:
    """One step of a run by its sequence number, or StepNotFoundError."""
    step = session.scalar(select(RunStep).where(RunStep.run_id == run_id, RunStep.seq == seq))
    if step is None:
        raise StepNotFoundError(f"run {run_id} has no step {seq}")
    return step


def completed_nodes(session: Session, run_id: str) -> set[str]:
    """Names of the nodes that completed in any attempt: a resumed run skips them."""
    return set(
        session.scalars(
            select(RunStep.node).where(RunStep.run_id == run_id, RunStep.state == COMPLETED)
        )
    )


def _lock_run(
    session: Session,
    run_id: str,
    *,
    tokens: int = 0,
    cost: float = 0.0,
    epoch: int | None = None,
) -> Run:
    # An UPDATE takes the row lock on PostgreSQL (SQLite's BEGIN IMMEDIATE already
    # serialises writers); RETURNING gives the run as it is now, cancel flag included.
    # The sequence number is read by a later statement, which sees steps committed by a
    # parallel branch that held the lock before us. With an epoch the same UPDATE is the
    # compare-and-set of the claim.
    params: dict[str, Any] = {"b_run_id": run_id, "b_tokens": tokens, "b_cost": float(cost)}
    query = _ADD_TO_RUN
    if epoch is not None:
        query, params["b_epoch"] = _ADD_TO_CLAIMED_RUN, epoch
    run = session.scalars(query, params).one_or_none()
    if run is None:
        if epoch is not None:
            raise run_lifecycle.stale_claim(session, run_id, epoch)
        raise RunNotFoundError(f"no run with id {run_id}")
    return run


def complete_waiting(
    session: Session,
    run_id: str,
    step_key: str,
    *,
    output: dict[str, Any],
    epoch: int | None = None,
) -> RunStep | None:
    """Mark the approval step of this key decided (completed with ``output``); with
    ``epoch``, only while that claim holds the run (StaleClaimError otherwise)."""
    if epoch is not None:
        _lock_run(session, run_id, epoch=epoch)
    waiting = waiting_step(session, run_id, step_key)
    if waiting is not None:
        waiting.state = COMPLETED
        waiting.output = output
        waiting.finished_at = utcnow()
        if epoch is not None:
            waiting.epoch = epoch
        session.flush()
    return waiting


def completed_step(session: Session, run_id: str, step_key: str) -> RunStep | None:
    """The completed step with this key, if a previous attempt of the run already did it."""
    return session.scalar(
        select(RunStep)
        .where(RunStep.run_id == run_id, RunStep.step_key == step_key, RunStep.state == COMPLETED)
        .order_by(RunStep.seq)
        .limit(1)
    )


def waiting_step(session: Session, run_id: str, step_key: str) -> RunStep | None:
    """The approval step of this key that still waits for a decision."""
    return session.scalar(
        select(RunStep).where(
            RunStep.run_id == run_id,
            RunStep.step_key == step_key,
            RunStep.state == AWAITING_APPROVAL,
        )
    )


def keyed_steps(session: Session, run_id: str) -> Sequence[RunStep]:
    """The run's completed and waiting steps that carry a step key (for resuming)."""
    return session.scalars(
        select(RunStep)
        .where(
            RunStep.run_id == run_id,
            RunStep.step_key.is_not(None),
            RunStep.state.in_((COMPLETED, AWAITING_APPROVAL)),
        )
        .order_by(RunStep.seq)
    ).all()


def latest_waiting_step(session: Session, run_id: str) -> RunStep | None:
    """The newest step of the run that waits for an approval decision."""
    return session.scalar(
        select(RunStep)
        .where(RunStep.run_id == run_id, RunStep.state == AWAITING_APPROVAL)
        .order_by(RunStep.seq.desc())
        .limit(1)
    )


def nested_steps(session: Session, run_id: str, key_prefix: str) -> Sequence[RunStep]:
    """The steps stored under a node's step (tool calls: keys starting with
    ``<node>#<visit>/``), in order, whatever their state."""
    return session.scalars(
        select(RunStep)
        .where(RunStep.run_id == run_id, RunStep.step_key.startswith(key_prefix, autoescape=True))
        .order_by(RunStep.seq)
    ).all()
