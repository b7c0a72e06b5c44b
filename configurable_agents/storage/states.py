"""Run states, stored as short strings, and the table of the changes allowed between them.

Pure data, kept apart from the models so code that must not import the ORM
(`configurable-agents status`) shares the same names. ``storage.run_lifecycle`` makes
every change in :data:`TRANSITIONS` and nothing else changes a run's state.
"""

from __future__ import annotations

from typing import NamedTuple


class RunState:
    """The states a run moves through."""

    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    ALL = (QUEUED, RUNNING, AWAITING_APPROVAL, COMPLETED, FAILED, CANCELLED)
    FINISHED = (COMPLETED, FAILED, CANCELLED)


class Transition(NamedTuple):
    """A change of a run's state: the states it may start from and the state it ends in."""

    sources: frozenset[str]
    target: str


# Every change of a run's state, by the name of the storage.run_lifecycle function that
# makes it. A change not in this table raises IllegalTransitionError.
TRANSITIONS: dict[str, Transition] = {
    # A worker takes a queued run under a lease (one conditional UPDATE).
    "claim": Transition(frozenset({RunState.QUEUED}), RunState.RUNNING),
    # A claim of a running run whose holder's lease expired (`resume --take-over`): a new
    # epoch fences the old holder off.
    "take_over": Transition(frozenset({RunState.RUNNING}), RunState.RUNNING),
    # This process executes the run as it stands: the CLI's run, resume and approve. A
    # running run here was interrupted (its process died) and starts a new attempt.
    "start": Transition(
        frozenset({RunState.QUEUED, RunState.RUNNING, RunState.AWAITING_APPROVAL}),
        RunState.RUNNING,
    ),
    # An approval node asks a person; the paused run holds no worker.
    "pause_for_approval": Transition(frozenset({RunState.RUNNING}), RunState.AWAITING_APPROVAL),
    # The person decided: the run waits for a worker again.
    "resume_after_approval": Transition(frozenset({RunState.AWAITING_APPROVAL}), RunState.QUEUED),
    # The reaper: the run's worker stopped renewing its lease.
    "requeue": Transition(frozenset({RunState.RUNNING}), RunState.QUEUED),
    # The same run again from its last checkpoint (a running one only once its lease expired).
    "retry": Transition(
        frozenset({RunState.FAILED, RunState.CANCELLED, RunState.RUNNING}), RunState.QUEUED
    ),
    "complete": Transition(frozenset({RunState.RUNNING}), RunState.COMPLETED),
    # Also before it ran: the queue was down, or its workflow version is gone.
    "fail": Transition(
        frozenset({RunState.QUEUED, RunState.RUNNING, RunState.AWAITING_APPROVAL}),
        RunState.FAILED,
    ),
    # A running run is only flagged; it stops itself before its next step.
    "cancel": Transition(
        frozenset({RunState.QUEUED, RunState.RUNNING, RunState.AWAITING_APPROVAL}),
        RunState.CANCELLED,
    ),
}


def allowed(source: str, target: str) -> bool:
    """Whether some change in :data:`TRANSITIONS` takes a run from ``source`` to ``target``."""
    return any(
        source in change.sources and change.target == target for change in TRANSITIONS.values()
    )
