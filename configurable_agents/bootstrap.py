"""Start-up steps every process of the set shares: settings, database, schema, sockets.

Each failure ends the process with one line naming what is wrong and exit code 1 (2 for
a wrong setting), so honcho stops the set with the reason on screen, never a traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import ConfigError
from configurable_agents.config.mcp import load_servers_file, use_shared_servers
from configurable_agents.settings import Settings, load_settings_or_exit
from configurable_agents.storage.database import (
    create_db_engine,
    make_session_factory,
    wait_until_reachable,
)
from configurable_agents.storage.errors import DatabaseUnreachableError, SchemaBehindError
from configurable_agents.storage.migrations import wait_for_head

# Nothing in the set may call out at start: analytics, telemetry and hub look-ups off.
OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "LANGCHAIN_TRACING_V2": "false",
    # The MLflow client waits minutes on a down server by default; fail fast instead.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "2",
}


def apply_offline_environment() -> None:
    """Set the no-call-out variables unless the user set them explicitly."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def fail(process: str, message: str, code: int = 1) -> SystemExit:
    """Print one line for the user and return the SystemExit to raise."""
    print(f"{process}: {message}", file=sys.stderr, flush=True)
    return SystemExit(code)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.value, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Per-request and per-plugin lines drown what matters in the honcho output.
    # The MCP SDK logs each request it serves and its HTTP client (httpx2) each call.
    for noisy in ("httpx", "httpx2", "mcp", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


@dataclass
class Database:
    """The engine and session factory of a started process."""

    engine: Engine
    session_factory: sessionmaker[Session]


def open_database(
    settings: Settings,
    process: str,
    *,
    wait_for_schema: bool = True,
    idle_in_transaction_seconds: float | None = None,
) -> Database:
    """Connect (bounded retries), then wait a bounded time for the schema to reach head.

    ``idle_in_transaction_seconds``: see storage.database.create_db_engine (workers).
    """

    settings.ensure_data_dir()
    engine = create_db_engine(
        settings.effective_database_url,
        connect_timeout=settings.database_connect_timeout,
        idle_in_transaction_seconds=idle_in_transaction_seconds,
    )
    try:
        wait_until_reachable(engine, settings.database_connect_timeout)
        if wait_for_schema:
            wait_for_head(engine, settings.release_wait_seconds)
    except DatabaseUnreachableError as error:
        raise fail(process, f"{error}. Start the database or fix DATABASE_URL.") from None
    except SchemaBehindError as error:
        raise fail(process, str(error)) from None
    return Database(engine=engine, session_factory=make_session_factory(engine))


def start_process(process: str) -> Settings:
    """Settings, logging and the offline environment for a process entry point."""
    apply_offline_environment()
    settings = load_settings_or_exit(process)
    configure_logging(settings)
    load_mcp_servers(process, settings)
    return settings


def load_mcp_servers(process: str, settings: Settings) -> None:
    """Read MCP_SERVERS_FILE (when set) so every workflow of this process knows its servers;
    a file with problems stops the process with one line per problem (exit code 2)."""
    path = settings.mcp_servers_file
    if path is None:
        use_shared_servers({})
        return
    try:
        use_shared_servers(load_servers_file(path.expanduser()))
    except ConfigError as error:
        raise fail(process, f"MCP_SERVERS_FILE: {error}", code=2) from None


def bind_socket(process: str, host: str, port: int, setting: str) -> socket.socket:
    """Bind the listening socket up front so a taken port is one clear line, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise fail(
                process,
                f"port {port} on {host} is already in use; stop the program using it "
                f"or set {setting} to a free port",
            ) from None
        raise fail(
            process, f"cannot listen on {host}:{port} ({error.strerror}); check {setting}"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check_port_free(process: str, host: str, port: int, setting: str) -> None:
    """For servers we do not start ourselves (MLflow): fail early with the same message."""
    bind_socket(process, host, port, setting).close()


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")
