"""Run states, stored as short strings. Kept apart from the models so code that must not
import the ORM (`configurable-agents status`) shares the same names."""


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
