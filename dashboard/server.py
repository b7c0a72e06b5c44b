"""Starts the dashboard: settings, access rule, database, socket, uvicorn."""

from __future__ import annotations

import sys
from typing import Any

from configurable_agents import access
from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings
from configurable_agents.web_process import WebProcess, serve


def check_access_rule(settings: Settings) -> None:
    """Off loopback the dashboard refuses to start without an access token."""
    access.check_access_rule(
        "dashboard", settings.dashboard_host, "DASHBOARD_HOST", settings.dashboard_access_token
    )


def _build(settings: Settings, database: Database) -> Any:
    from dashboard.app import create_app

    return create_app(settings, database)


PROCESS = WebProcess(
    name="dashboard",
    host_setting="DASHBOARD_HOST",
    port_setting="DASHBOARD_PORT",
    factory_path="dashboard.server:create_app_from_environment",
    reload_dirs=("dashboard",),
    build=_build,
    check=check_access_rule,
    # Importing and building the dashboard is the slow part of its start; /healthz only
    # needs the database, so it answers first (within 2 s of launch inside the set).
    health_first=True,
)


def create_app_from_environment() -> Any:
    """App factory for `uvicorn --factory` (Procfile.dev's auto-reload)."""
    return PROCESS.create_app_from_environment()


def main(argv: list[str] | None = None) -> int:
    return serve(PROCESS, argv)


if __name__ == "__main__":
    sys.exit(main())
