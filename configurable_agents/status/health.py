"""The /healthz answer every web process gives: process up, database reachable, schema at head."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine

from configurable_agents.storage.database import redact_url
from configurable_agents.storage.migrations import schema_state


def health_report(process: str, engine: Engine) -> tuple[dict[str, Any], bool]:
    """A JSON-ready report and whether the process is healthy."""

    report: dict[str, Any] = {
        "process": process,
        "pid": os.getpid(),
        "database": {"url": redact_url(str(engine.url)), "reachable": False},
        "schema": None,
    }
    try:
        state = schema_state(engine)
    except Exception as error:  # any driver error means "unreachable" to a probe
        report["database"]["error"] = _first_line(error)
        report["status"] = "database unreachable"
        return report, False
    report["database"]["reachable"] = True
    report["schema"] = {"current": state.current, "head": state.head, "at_head": state.at_head}
    report["status"] = "ok" if state.at_head else "schema behind head"
    return report, state.at_head


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(error).__name__
