"""/mcp: the platform's MCP server over streamable HTTP, each stored workflow a tool
(configurable_agents/mcp/server.py says what the tools do; mcp/http.py builds the SDK's
session manager).

Access is the dashboard's: /mcp is guarded like /v1 (routes/auth.py), open on loopback and
needing the access token or an API key off it.

The MCP SDK takes about 2 s of CPU to import (measured: a quarter of the dashboard's whole
import), and the dashboard must answer /healthz within 2 s of launch. So the route answers
from the start, and the SDK is imported and its session manager started in the background
by the lifespan; a request that comes before that waits for it (bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings

PATH = "/mcp"
# Longest wait of an early request for the SDK to be loaded.
READY_SECONDS = 30.0
log = logging.getLogger(__name__)


class McpEndpoint:
    """The ASGI app at /mcp: the SDK's, once the lifespan has started it."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.app: Any = None
        self.failure: str | None = None
        self._ready: asyncio.Event | None = None

    def ready(self) -> asyncio.Event:
        """Set once the SDK's app answers (or could not start); made in the running loop."""
        if self._ready is None:
            self._ready = asyncio.Event()
        return self._ready

    async def serve(self, stop: asyncio.Event) -> None:
        """Import the SDK, then run its session manager until ``stop`` (the lifespan's task)."""
        try:
            http = await asyncio.to_thread(importlib.import_module, "configurable_agents.mcp.http")
            manager, app = http.session_manager(self.settings, self.database.session_factory)
            async with manager.run():
                self.app = app
                self.ready().set()
                await stop.wait()
        except Exception as error:  # /mcp answers 503 saying why; the dashboard goes on
            self.failure = f"{type(error).__name__}: {error}"
            log.exception("the MCP server at /mcp could not start")
        finally:
            self.app = None
            self.ready().set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready().wait(), READY_SECONDS)
        if self.app is None:
            why = self.failure or "the MCP server is not running"
            await JSONResponse({"detail": why}, status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install(app: FastAPI, settings: Settings, database: Database) -> McpEndpoint:
    """Add the /mcp route; the lifespan runs ``running(endpoint)``."""
    endpoint = McpEndpoint(settings, database)
    app.router.routes.append(Route(PATH, endpoint=endpoint))
    return endpoint


@contextlib.asynccontextmanager
async def running(endpoint: McpEndpoint) -> AsyncIterator[None]:
    """The MCP server for the app's lifetime (started in the background)."""
    stop = asyncio.Event()
    task = asyncio.create_task(endpoint.serve(stop), name="mcp-server")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
