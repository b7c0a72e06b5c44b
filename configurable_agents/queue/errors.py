"""Why the queue cannot start or steer a run: one name per mistake.

    DispatchError
    ├── QueueConfigError        QUEUE_URL names a storage we do not support
    ├── QueueFullError          too many runs wait (QUEUE_MAX_DEPTH)
    ├── QueueUnavailableError   Redis or the SQLite queue file cannot be reached
    ├── AgentUnavailableError   the remote agent is not registered or not alive
    └── RegistrationError       a remote agent cannot be registered

Starting and steering also raise the lower layers' errors, never a copy of them: a missing
workflow or run is a ``storage.errors.NotFoundError``, a run in the wrong state an
``IllegalTransitionError``, inputs that do not fit a ``config.errors.InvalidInputsError``,
text or numbers no database can keep a ``storage.errors.UnstorableValueError``.
:data:`REFUSALS` lists every error a caller answers as a refusal; :func:`http_status` gives
the code to answer with (webhooks and the agent API answer with it).
"""

from __future__ import annotations

from configurable_agents.config.errors import ConfigLayerError
from configurable_agents.storage.errors import ConflictError, InvalidValueError, NotFoundError

__all__ = [
    "REFUSALS",
    "AgentUnavailableError",
    "DispatchError",
    "QueueConfigError",
    "QueueFullError",
    "QueueUnavailableError",
    "RegistrationError",
    "http_status",
]


class DispatchError(Exception):
    """A run cannot be started or changed; the message says why. ``status`` is the HTTP code."""

    status = 400


class QueueConfigError(DispatchError, ValueError):
    """QUEUE_URL names a storage we do not support."""

    status = 503


class QueueFullError(DispatchError):
    """Too many runs wait (QUEUE_MAX_DEPTH)."""

    status = 429


class QueueUnavailableError(DispatchError):
    """The queue (Redis or the SQLite queue file) cannot be reached."""

    status = 503


class AgentUnavailableError(DispatchError):
    """The remote agent is not registered or not alive."""

    status = 409


class RegistrationError(DispatchError):
    """The agent cannot be registered (bad URL, schema not reachable or invalid)."""

    status = 422


# Everything starting or steering a run may refuse with: callers that answer a person or
# a client catch these and let anything else (a bug) through.
REFUSALS: tuple[type[Exception], ...] = (
    DispatchError,
    NotFoundError,
    ConflictError,
    ConfigLayerError,
    InvalidValueError,
)


def http_status(error: Exception) -> int:
    """The HTTP status a refusal answers with (400 for anything unnamed)."""
    if isinstance(error, DispatchError):
        return error.status
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, ConfigLayerError | InvalidValueError):
        return 422
    return 400
