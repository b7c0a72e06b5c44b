"""Why a run's record did not reach MLflow: one name per mistake.

TrackingError
├── MlflowUnavailable   down, timing out, answering 5xx: the record stays pending
└── MlflowRefused       MLflow refused the record itself (4xx): it is marked failed
"""

from __future__ import annotations

__all__ = ["MlflowRefused", "MlflowUnavailable", "TrackingError"]


class TrackingError(Exception):
    """A record was not delivered; the message says why."""


class MlflowUnavailable(TrackingError):
    """MLflow cannot take records now (down, timing out, 5xx): try again later."""


class MlflowRefused(TrackingError):
    """MLflow refused the record itself (a 4xx): sending it again would not help."""
