"""Request-scoped helpers shared by the route modules."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings


def db_session(request: Request) -> Iterator[Session]:
    """A session for one request: committed when the handler returns, rolled back on error."""
    from configurable_agents.storage.database import session_scope

    with session_scope(request.app.state.database.session_factory) as session:
        yield session


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def session_factory_of(request: Request) -> sessionmaker[Session]:
    return request.app.state.database.session_factory


def hx_target(request: Request) -> str:
    """The id of the element an HTMX request will swap (empty for a page load)."""
    return request.headers.get("hx-target", "")


def http_client(request: Request):  # type: ignore[no-untyped-def]
    """The app's shared async HTTP client (probes and the MLflow proxy), made on first use."""
    import httpx

    client = getattr(request.app.state, "http", None)
    if client is None:
        # Short connect timeout: a service that is down must answer "down" at once.
        client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0), follow_redirects=False)
        request.app.state.http = client
    return client


async def is_up(request: Request, url: str, timeout: float = 1.5) -> bool:
    """GET the health URL; up on a 2xx answer."""
    import httpx

    try:
        response = await http_client(request).get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.is_success
