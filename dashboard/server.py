"""Starts the dashboard: settings, database, access rule, socket, uvicorn."""

from __future__ import annotations

import argparse
import sys

from configurable_agents.bootstrap import (
    bind_socket,
    fail,
    is_loopback,
    open_database,
    start_process,
)
from configurable_agents.settings import Settings


def check_access_rule(settings: Settings) -> None:
    """Off loopback the dashboard refuses to start without an access token."""
    if not is_loopback(settings.dashboard_host) and not settings.dashboard_access_token:
        raise fail(
            "dashboard",
            f"DASHBOARD_HOST={settings.dashboard_host} is reachable from other machines: "
            "set DASHBOARD_ACCESS_TOKEN (or bind 127.0.0.1)",
            code=2,
        )


def create_app_from_environment():  # type: ignore[no-untyped-def]
    """App factory for `uvicorn --factory` (Procfile.dev's auto-reload)."""
    from dashboard.app import create_app

    settings = start_process("dashboard")
    check_access_rule(settings)
    return create_app(settings, open_database(settings, "dashboard"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard")
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    args = parser.parse_args(argv)

    import uvicorn

    settings = start_process("dashboard")
    check_access_rule(settings)
    if args.reload:
        bind_socket(
            "dashboard", settings.dashboard_host, settings.dashboard_port, "DASHBOARD_PORT"
        ).close()
        uvicorn.run(
            "dashboard.server:create_app_from_environment",
            factory=True,
            host=settings.dashboard_host,
            port=settings.dashboard_port,
            reload=True,
            reload_dirs=["dashboard", "configurable_agents"],
            log_level=settings.log_level.value.lower(),
        )
        return 0
    sock = bind_socket(
        "dashboard", settings.dashboard_host, settings.dashboard_port, "DASHBOARD_PORT"
    )
    from dashboard.app import create_app

    app = create_app(settings, open_database(settings, "dashboard"))
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.value.lower(),
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
