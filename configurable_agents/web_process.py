"""Serving a web process of the set (dashboard, chat) with uvicorn, the same way for both.

The socket is bound before anything slow happens, so a taken port is one clear line;
`--reload` (Procfile.dev) serves an app factory that uvicorn re-imports on changes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from configurable_agents.bootstrap import Database, bind_socket, open_database, start_process
from configurable_agents.settings import Settings


@dataclass(frozen=True)
class WebProcess:
    """How one web process is named, configured and built."""

    name: str
    host_setting: str
    port_setting: str
    # "module:function" of a zero-argument factory, for uvicorn's reloader.
    factory_path: str
    reload_dirs: tuple[str, ...]
    build: Callable[[Settings, Database], Any]
    # Extra start-up rule (e.g. the dashboard's access-token rule); raises SystemExit.
    check: Callable[[Settings], None] = lambda settings: None

    def address(self, settings: Settings) -> tuple[str, int]:
        return getattr(settings, self.host_setting.lower()), getattr(
            settings, self.port_setting.lower()
        )

    def create_app_from_environment(self) -> Any:
        """Settings, checks and database, then the app (the reloader's factory calls this)."""
        settings = start_process(self.name)
        self.check(settings)
        return self.build(settings, open_database(settings, self.name))


def serve(process: WebProcess, argv: list[str] | None = None) -> int:
    """Entry point of `python -m <process>`."""
    parser = argparse.ArgumentParser(prog=f"python -m {process.name}")
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    args = parser.parse_args(argv)
    settings = start_process(process.name)
    process.check(settings)
    host, port = process.address(settings)

    import uvicorn

    log_level = settings.log_level.value.lower()
    if args.reload:
        bind_socket(process.name, host, port, process.port_setting).close()
        uvicorn.run(
            process.factory_path,
            factory=True,
            host=host,
            port=port,
            reload=True,
            reload_dirs=[*process.reload_dirs, "configurable_agents"],
            log_level=log_level,
        )
        return 0
    sock = bind_socket(process.name, host, port, process.port_setting)
    app = process.build(settings, open_database(settings, process.name))
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 1
