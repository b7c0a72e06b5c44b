"""Starts the chat builder: Gradio mounted in a FastAPI app that also answers /healthz."""

from __future__ import annotations

import argparse

from configurable_agents.bootstrap import bind_socket, open_database, start_process


def create_app_from_environment():  # type: ignore[no-untyped-def]
    """App factory for `uvicorn --factory` (Procfile.dev's auto-reload)."""
    from chat.app import create_app

    settings = start_process("chat")
    return create_app(settings, open_database(settings, "chat"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat")
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    args = parser.parse_args(argv)
    settings = start_process("chat")

    import uvicorn

    if args.reload:
        bind_socket("chat", settings.chat_host, settings.chat_port, "CHAT_PORT").close()
        uvicorn.run(
            "chat.server:create_app_from_environment",
            factory=True,
            host=settings.chat_host,
            port=settings.chat_port,
            reload=True,
            reload_dirs=["chat", "configurable_agents"],
            log_level=settings.log_level.value.lower(),
        )
        return 0
    sock = bind_socket("chat", settings.chat_host, settings.chat_port, "CHAT_PORT")
    from chat.app import create_app

    app = create_app(settings, open_database(settings, "chat"))
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.value.lower(),
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 1
