"""The dashboard application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from configurable_agents import __version__
from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings
from configurable_agents.status.broadcaster import StatusBroadcaster
from dashboard.asgi import ServerTimingMiddleware
from dashboard.csrf import CSRFCookieMiddleware, require_csrf
from dashboard.live import NodeOrderCache, ServiceWatch, Watchlist, gather_live, tick
from dashboard.live_topics import TopicRenderer
from dashboard.render import build_templates, page

HERE = Path(__file__).resolve().parent
templates = build_templates()
log = logging.getLogger("dashboard")


STARTUP_PROBE_TIMEOUT = 0.25


def create_app(
    settings: Settings, database: Database, *, tick_seconds: float | None = None
) -> FastAPI:
    """Build the app around one database and one status broadcaster."""
    from dashboard.routes import (
        agent_api,
        agents,
        api,
        api_reference,
        auth,
        chat,
        events,
        health,
        home,
        hooks,
        metrics,
        mlflow,
        optimization,
        orchestrator,
        runs,
        settings_page,
        templates_gallery,
        workflows,
    )

    seconds = tick_seconds or settings.status_tick_seconds
    watchlist = Watchlist()
    node_orders = NodeOrderCache()
    services = ServiceWatch(settings, interval=seconds)
    # One broadcaster per process: one snapshot per tick, whatever the number of browsers.
    broadcaster = StatusBroadcaster(
        lambda: gather_live(settings, database.session_factory, watchlist, node_orders, services),
        tick_seconds=seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A short first probe: a service still starting must not delay the ready line
        # (the dashboard answers /healthz within 2 s of launch); the loop probes again.
        await asyncio.to_thread(services.probe, STARTUP_PROBE_TIMEOUT)
        await broadcaster.refresh()
        tasks = [
            asyncio.create_task(tick(broadcaster, seconds), name="status-tick"),
            asyncio.create_task(services.run(), name="service-probes"),
        ]
        print(f"dashboard ready at {settings.dashboard_url}", flush=True)
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await mlflow.close_proxy(app)

    app = FastAPI(
        title="configurable-agents dashboard",
        version=__version__,
        lifespan=lifespan,
        # FastAPI's docs page loads Swagger UI from a CDN: routes/api_reference.py draws one.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        description="The JSON API behind every dashboard page. State-changing calls take a "
        "JSON body (or the page's CSRF token); off loopback, send `Authorization: Bearer "
        "<DASHBOARD_ACCESS_TOKEN>`.",
    )
    app.state.settings = settings
    app.state.database = database
    app.state.broadcaster = broadcaster
    app.state.watchlist = watchlist
    app.state.templates = templates
    app.state.topic_renderer = TopicRenderer(templates, settings)
    templates.env.globals["version"] = __version__

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    auth.install(app, settings)
    app.add_middleware(CSRFCookieMiddleware)
    app.add_middleware(ServerTimingMiddleware)

    protected = [Depends(require_csrf)]
    # /login stays outside CSRF: it is the door, and its cookie is SameSite=strict.
    app.include_router(auth.router)
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(mlflow.proxy_router)  # checks same-origin itself (MLflow's own POSTs)
    # Authenticated by an HMAC signature and by each agent's own token (JSON bodies only).
    app.include_router(hooks.router)
    app.include_router(agent_api.router)
    for module in (
        home,
        workflows,
        templates_gallery,
        runs,
        agents,
        orchestrator,
        metrics,
        optimization,
        chat,
        mlflow,
        settings_page,
        api,
        api_reference,
    ):
        app.include_router(module.router, dependencies=protected)

    install_error_handlers(app)
    return app


def install_error_handlers(app: FastAPI) -> None:
    """Friendly errors: JSON for the API, a page for a browser, never a traceback."""
    from configurable_agents.queue.errors import REFUSALS, http_status
    from dashboard.queries import BadCursor

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "loc": list(error.get("loc", ())),
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
                **{key: error[key] for key in ("line", "column") if key in error},
            }
            for error in exc.errors()
        ]
        if wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        lines = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in errors
        )
        return error_response(request, 422, f"Some fields are not right: {lines}")

    async def dispatch_error(request: Request, exc: Exception) -> Response:
        return error_response(request, http_status(exc), str(exc))

    for refusal in REFUSALS:
        app.add_exception_handler(refusal, dispatch_error)

    @app.exception_handler(BadCursor)
    async def bad_cursor(request: Request, exc: BadCursor) -> Response:
        return error_response(request, 400, str(exc))

    async def not_found(request: Request, exc: Exception) -> Response:
        message = str(exc.args[0]) if exc.args else "not found"
        return error_response(request, 404, message)

    # Only the repositories' "no such ..." errors: any other LookupError (a KeyError) is a bug.
    for missing in NOT_FOUND:
        app.add_exception_handler(missing, not_found)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        # Never a traceback on a page: the log has it, the user gets a plain message.
        log.exception("unhandled error on %s", request.url.path)
        return error_response(
            request, 500, "Something went wrong on our side; the log has the details."
        )


def _not_found_errors() -> tuple[type[Exception], ...]:
    from configurable_agents.storage.repositories import (
        agents,
        experiments,
        runs,
        steps,
        workflows,
    )

    return (
        workflows.WorkflowNotFoundError,
        workflows.WorkflowVersionNotFoundError,
        runs.RunNotFoundError,
        steps.StepNotFoundError,
        experiments.ExperimentNotFoundError,
        experiments.VariantNotFoundError,
        agents.AgentNotFoundError,
    )


NOT_FOUND = _not_found_errors()


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(request: Request, status: int, message: str) -> HTMLResponse | JSONResponse:
    """A friendly error: JSON for the API, a page for a browser."""
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return page(request, "error.html", {"status": status, "message": message}, status_code=status)
