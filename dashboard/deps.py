"""Request-scoped helpers shared by the page and command modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from dashboard.live.snapshot import LiveSnapshot
from dashboard.live.tick import StatusTick


def db_session(request: Request) -> Iterator[Session]:
    """A session for one request: committed when the handler returns, rolled back on error."""
    with session_scope(request.app.state.database.session_factory) as session:
        yield session


# A handler's parameter typed DB gets the request's session.
DB = Annotated[Session, Depends(db_session)]


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def session_factory_of(request: Request) -> sessionmaker[Session]:
    """The app's session factory (for work done in a thread, outside the request session)."""
    return request.app.state.database.session_factory


def tick_of(request: Request) -> StatusTick:
    """The process's one status tick."""
    return request.app.state.tick


async def latest_snapshot(request: Request) -> LiveSnapshot:
    """The tick's latest snapshot (taken now when there is none yet)."""
    tick = tick_of(request)
    return tick.latest or await tick.refresh()


def hx_target(request: Request) -> str:
    """The id of the element an HTMX request will swap (empty for a page load)."""
    return request.headers.get("hx-target", "")


def http_client(request: Request) -> httpx.AsyncClient:
    """The app's shared async HTTP client (probes and the MLflow proxy), made on first use."""
    client = getattr(request.app.state, "http", None)
    if client is None:
        # Short connect timeout: a service that is down must answer "down" at once.
        client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0), follow_redirects=False)
        request.app.state.http = client
    return client


async def is_up(request: Request, url: str, timeout: float = 1.5) -> bool:
    """GET the health URL; up on a 2xx answer."""
    try:
        response = await http_client(request).get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.is_success
