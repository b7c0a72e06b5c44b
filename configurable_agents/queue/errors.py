"""Why a run cannot be started or changed; each error carries the HTTP status to answer."""

from __future__ import annotations


class DispatchError(Exception):
    """A run cannot be started or changed; the message says why. ``status`` is the HTTP code."""

    status = 400


class RunNotFoundError(DispatchError):
    status = 404


class InvalidRunState(DispatchError):
    status = 409


class InvalidInputsError(DispatchError):
    """The inputs do not fit the workflow (or the remote agent's schema); one line each."""

    status = 422

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class QueueFullError(DispatchError):
    """Too many runs wait (QUEUE_MAX_DEPTH)."""

    status = 429


class QueueUnavailableError(DispatchError):
    """The queue (Redis or the SQLite queue file) cannot be reached."""

    status = 503
