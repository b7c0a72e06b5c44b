"""Every error the storage layer raises, one name per mistake.

    StorageError
    ├── NotFoundError (also LookupError)
    │   ├── RunNotFoundError, StepNotFoundError
    │   ├── WorkflowNotFoundError, WorkflowVersionNotFoundError
    │   ├── AgentNotFoundError, ChatSessionNotFoundError, TriggerEventNotFoundError
    │   ├── ExperimentNotFoundError, VariantNotFoundError, DatasetNotFoundError
    │   └── ApiKeyNotFoundError
    ├── ConflictError (also ValueError)
    │   ├── WorkflowNameTakenError, ExperimentNameTakenError, ApiKeyNameTakenError
    │   ├── IllegalTransitionError
    │   ├── StaleClaimError       a worker's claim epoch is no longer the run's
    │   └── RunHeldError          another worker holds the run under a live lease
    ├── InvalidValueError (also TypeError)
    │   └── UnstorableValueError   text with a lone surrogate or NUL, an integer past 64 bits
    ├── DatabaseUnreachableError
    └── SchemaBehindError

Callers catch a branch (``NotFoundError`` answers 404, ``ConflictError`` 409) or one
leaf; the message always says which row and why.
"""

from __future__ import annotations

__all__ = [
    "AgentNotFoundError",
    "ApiKeyNameTakenError",
    "ApiKeyNotFoundError",
    "ChatSessionNotFoundError",
    "ConflictError",
    "DatabaseUnreachableError",
    "DatasetNotFoundError",
    "ExperimentNameTakenError",
    "ExperimentNotFoundError",
    "IllegalTransitionError",
    "InvalidValueError",
    "NotFoundError",
    "RunHeldError",
    "RunNotFoundError",
    "SchemaBehindError",
    "StaleClaimError",
    "StepNotFoundError",
    "StorageError",
    "TriggerEventNotFoundError",
    "UnstorableValueError",
    "VariantNotFoundError",
    "WorkflowNameTakenError",
    "WorkflowNotFoundError",
    "WorkflowVersionNotFoundError",
]


class StorageError(Exception):
    """Something the database holds (or cannot reach) refuses what was asked."""


class NotFoundError(StorageError, LookupError):
    """No row with that id or name."""


class RunNotFoundError(NotFoundError):
    """No run with that id."""


class StepNotFoundError(NotFoundError):
    """No step with that id in that run."""


class WorkflowNotFoundError(NotFoundError):
    """No live workflow with that id or name."""


class WorkflowVersionNotFoundError(NotFoundError):
    """The workflow has no version with that number."""


class AgentNotFoundError(NotFoundError):
    """No registered agent with that id or name."""


class ChatSessionNotFoundError(NotFoundError):
    """No chat session with that id."""


class TriggerEventNotFoundError(NotFoundError):
    """No trigger event with that id."""


class ExperimentNotFoundError(NotFoundError):
    """No experiment with that id or name."""


class VariantNotFoundError(NotFoundError):
    """The experiment has no variant with that name."""


class DatasetNotFoundError(NotFoundError):
    """No dataset (or no such version of it)."""


class ApiKeyNotFoundError(NotFoundError):
    """No live API key with that name."""


class ConflictError(StorageError, ValueError):
    """The change contradicts what is stored (a taken name, a run's state)."""


class WorkflowNameTakenError(ConflictError):
    """Another live workflow already has that name."""


class ExperimentNameTakenError(ConflictError):
    """Another experiment already has that name."""


class ApiKeyNameTakenError(ConflictError):
    """Another live API key already has that name."""


class IllegalTransitionError(ConflictError):
    """The run's state does not allow this change (see ``storage.states.TRANSITIONS``)."""


class StaleClaimError(ConflictError):
    """The worker's claim on the run went stale: another claim took a newer epoch (or the
    run left the running state), so this worker must stop and write nothing more."""


class RunHeldError(ConflictError):
    """Another worker holds the run under a live lease (``holder``, until ``until``)."""

    def __init__(self, message: str, *, holder: str | None, until: object) -> None:
        super().__init__(message)
        self.holder = holder
        self.until = until


class InvalidValueError(StorageError, TypeError):
    """A value cannot be stored as given (for example not JSON)."""


class UnstorableValueError(InvalidValueError):
    """A value no database or encoding can keep: text with a lone surrogate or a NUL,
    an integer past 64 bits, a number that is not finite. ``where`` is its path
    (``("body", "inputs", "text")``); the message says what is wrong."""

    def __init__(self, where: tuple[str | int, ...], message: str) -> None:
        self.where = where
        super().__init__(f"{'.'.join(str(part) for part in where)}: {message}")
        self.reason = message

    def __reduce__(self) -> tuple[type[UnstorableValueError], tuple[tuple[str | int, ...], str]]:
        return (UnstorableValueError, (self.where, self.reason))


class DatabaseUnreachableError(StorageError):
    """The database could not be reached; the message says where and why."""


class SchemaBehindError(StorageError):
    """The database schema is not at head and the release step did not fix it in time."""
