"""Starts the chat builder: Gradio mounted in a FastAPI app that also answers /healthz."""

from __future__ import annotations

from typing import Any

from configurable_agents import access
from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings
from configurable_agents.web_process import WebProcess, serve


def _build(settings: Settings, database: Database) -> Any:
    # Lazy: chat.app loads Gradio (seconds); the port is bound and checked before this runs.
    from chat.app import create_app

    return create_app(settings, database)


def check_access_rule(settings: Settings) -> None:
    """Off loopback the chat, like the dashboard, refuses to start without the access token."""
    access.check_access_rule(
        "chat", settings.chat_host, "CHAT_HOST", settings.dashboard_access_token
    )


PROCESS = WebProcess(
    name="chat",
    host_setting="CHAT_HOST",
    port_setting="CHAT_PORT",
    factory_path="chat.server:create_app_from_environment",
    reload_dirs=("chat",),
    build=_build,
    check=check_access_rule,
)


def create_app_from_environment() -> Any:
    """App factory for `uvicorn --factory` (Procfile.dev's auto-reload)."""
    return PROCESS.create_app_from_environment()


def main(argv: list[str] | None = None) -> int:
    return serve(PROCESS, argv)
