"""The dashboard application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from configurable_agents import __version__
from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings
from configurable_agents.status.broadcaster import StatusBroadcaster
from configurable_agents.status.snapshot import gather_snapshot

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def create_app(
    settings: Settings, database: Database, *, tick_seconds: float | None = None
) -> FastAPI:
    """Build the app around one database and one status broadcaster."""
    from dashboard.routes import auth, events, health, home

    broadcaster = StatusBroadcaster(
        # The dashboard knows it is up; probing itself would only add a request per tick.
        lambda: gather_snapshot(
            settings, database.session_factory, skip_services=frozenset({"dashboard"})
        ),
        tick_seconds=tick_seconds or settings.status_tick_seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await broadcaster.refresh()
        await broadcaster.start()
        print(f"dashboard ready at {settings.dashboard_url}", flush=True)
        yield
        await broadcaster.stop()

    app = FastAPI(
        title="configurable-agents dashboard",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.database = database
    app.state.broadcaster = broadcaster
    app.state.templates = templates
    templates.env.globals["version"] = __version__

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    auth.install(app, settings)
    for module in (health, home, events, auth):
        app.include_router(module.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(
        request: Request, exc: StarletteHTTPException
    ) -> HTMLResponse | JSONResponse:
        return error_response(request, exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> HTMLResponse | JSONResponse:
        # Never a traceback on a page: the log has it, the user gets a plain message.
        import logging

        logging.getLogger("dashboard").exception("unhandled error on %s", request.url.path)
        return error_response(
            request, 500, "Something went wrong on our side; the log has the details."
        )

    return app


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(request: Request, status: int, message: str) -> HTMLResponse | JSONResponse:
    """A friendly error: JSON for the API, a page for a browser."""
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )
