"""/mcp on a real uvicorn server, reached by the official SDK's client over streamable HTTP:
open on loopback, refused without the access token (or an API key) when the dashboard is
bound beyond loopback, and let in with it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import api_keys, workflows
from tests.conftest import free_port
from tests.unit.dashboard.conftest import SUMMARIZE_YAML

TOKEN = "s3cret-token"


@contextlib.contextmanager
def serving(settings: Settings, database: Database) -> Iterator[str]:
    """The dashboard app on uvicorn in a thread; yields its /mcp URL."""
    from dashboard.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(15)


def tool_names(url: str, headers: dict[str, str] | None = None) -> list[str]:
    async def main() -> list[str]:
        async with (
            httpx2.AsyncClient(headers=headers or {}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return [tool.name for tool in (await client.list_tools()).tools]

    return anyio.run(main)


def store(database: Database) -> None:
    with session_scope(database.session_factory) as session:
        workflows.save(session, name="summarize", config_yaml=SUMMARIZE_YAML)


def test_loopback_mcp_is_open(dashboard_settings: Settings, dashboard_database: Database) -> None:
    store(dashboard_database)
    with serving(dashboard_settings, dashboard_database) as url:
        assert tool_names(url) == ["summarize"]
        # DNS rebinding: a page of another site that resolves to 127.0.0.1 is refused.
        response = httpx.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Host": "evil.example:80", "Accept": "application/json, text/event-stream"},
        )
        assert response.status_code == 421


@pytest.fixture
def guarded_settings(data_dir: Path) -> Settings:
    return load_settings(
        data_dir=data_dir,
        dashboard_host="0.0.0.0",
        dashboard_access_token=TOKEN,
        chat_port=free_port(),
        mlflow_port=free_port(),
    )


def test_off_loopback_mcp_needs_the_token_or_an_api_key(
    guarded_settings: Settings, dashboard_database: Database
) -> None:
    store(dashboard_database)
    with session_scope(dashboard_database.session_factory) as session:
        key = api_keys.create(session, "mcp-client")[1]
    with serving(guarded_settings, dashboard_database) as url:
        refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        with pytest.raises(Exception, match="unhandled errors"):  # the SDK cannot even start
            tool_names(url)
        assert tool_names(url, {"Authorization": f"Bearer {TOKEN}"}) == ["summarize"]
        assert tool_names(url, {"Authorization": f"Bearer {key}"}) == ["summarize"]
        wrong: Any = {"Authorization": "Bearer nope"}
        with pytest.raises(Exception, match="unhandled errors"):
            tool_names(url, wrong)
