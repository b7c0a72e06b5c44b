"""The dashboard application factory: pages, commands, the live stream and its tick."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from configurable_agents import __version__
from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings
from dashboard import errors
from dashboard.asgi import ServerTimingMiddleware
from dashboard.csrf import CSRFCookieMiddleware, require_csrf
from dashboard.hygiene import check_request
from dashboard.live import stream
from dashboard.live.feed import FeedHub
from dashboard.live.tick import NodeOrderCache, StatusTick, Watchlist, gather_live
from dashboard.live.topics import TopicRenderer
from dashboard.live.watches import ResourceWatch, ServiceWatch
from dashboard.pages import (
    agents,
    home,
    metrics,
    optimization,
    orchestrator,
    run,
    runs,
    workflow,
    workflows,
)
from dashboard.pages import (
    settings as settings_page,
)
from dashboard.pages import (
    templates as templates_page,
)
from dashboard.render import ApiJSONResponse, build_templates
from dashboard.routes import (
    agent_api,
    api_reference,
    auth,
    chat,
    experiments,
    health,
    hooks,
    mcp,
    mlflow,
    openai_compat,
    palette,
    serve,
)
from dashboard.routes import orchestrator as orchestrator_commands
from dashboard.routes import runs as run_commands
from dashboard.routes import workflows as workflow_commands

HERE = Path(__file__).resolve().parent
templates = build_templates()
log = logging.getLogger("dashboard")


STARTUP_PROBE_TIMEOUT = 0.25


def create_app(
    settings: Settings, database: Database, *, tick_seconds: float | None = None
) -> FastAPI:
    """Build the app around one database and one status tick."""
    seconds = tick_seconds or settings.status_tick_seconds
    watchlist = Watchlist()
    experiment_watchlist = Watchlist()  # experiment ids open pages follow
    node_orders = NodeOrderCache()
    services = ServiceWatch(settings, interval=seconds)
    resources = ResourceWatch(settings, database.session_factory)
    # One tick per process: one snapshot per tick, whatever the number of browsers.
    tick = StatusTick(
        lambda: gather_live(
            settings,
            database.session_factory,
            watchlist,
            node_orders,
            services,
            resources,
            experiment_watchlist,
        ),
        seconds=seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The live status starts here, and only here: the tick and the two watches it reads.
        # A short first probe: a service still starting must not delay the ready line
        # (the dashboard answers /healthz within 2 s of launch); the loop probes again.
        await asyncio.to_thread(services.probe, STARTUP_PROBE_TIMEOUT)
        await asyncio.to_thread(resources.read)
        await tick.refresh()
        tasks = [
            asyncio.create_task(tick.run(), name="status-tick"),
            asyncio.create_task(services.run(), name="service-probes"),
            asyncio.create_task(resources.run(), name="resource-readings"),
        ]
        async with mcp.running(mcp_endpoint):
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
        # Not FastAPI's byte fast path: an old row holding a lone surrogate must not be a 500.
        default_response_class=ApiJSONResponse,
        description="The JSON API behind every dashboard page, the run API and the "
        "OpenAI-compatible /v1 (each workflow a model `workflow/<name>`). State-changing calls "
        "take a JSON body (or the page's CSRF token); off loopback, send `Authorization: Bearer "
        "<key>` with an API key (`configurable-agents keys create NAME`) or the "
        "DASHBOARD_ACCESS_TOKEN.",
    )
    app.state.settings = settings
    app.state.database = database
    app.state.tick = tick
    app.state.watchlist = watchlist
    app.state.experiment_watchlist = experiment_watchlist
    app.state.feeds = FeedHub(database.session_factory)
    app.state.templates = templates
    app.state.topic_renderer = TopicRenderer(templates, settings)
    templates.env.globals["version"] = __version__

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # /mcp: every workflow as an MCP tool (guarded like /v1 by auth.install below).
    mcp_endpoint = mcp.install(app, settings, database)
    auth.install(app, settings)
    app.add_middleware(CSRFCookieMiddleware)
    app.add_middleware(ServerTimingMiddleware)

    # Every value a request carries is checked once before a handler stores or looks it up.
    hygiene = [Depends(check_request)]
    protected = [Depends(require_csrf), *hygiene]
    # /login stays outside CSRF: it is the door, and its cookie is SameSite=strict.
    app.include_router(auth.router)
    app.include_router(health.router)
    app.include_router(stream.router)
    app.include_router(mlflow.proxy_router)  # checks same-origin itself (MLflow's own POSTs)
    # Authenticated by an HMAC signature and by each agent's own token (JSON bodies only).
    app.include_router(hooks.router)
    # (Webhooks read their body as a bounded stream: the repositories check what they store.)
    app.include_router(agent_api.router, dependencies=hygiene)
    for module in (
        # Commands first: /workflows/new and /api/v1/workflows/schema are not ids.
        serve,
        openai_compat,
        workflow_commands,
        run_commands,
        orchestrator_commands,
        experiments,
        home,
        workflows,
        workflow,
        templates_page,
        runs,
        run,
        agents,
        orchestrator,
        metrics,
        optimization,
        settings_page,
        chat,
        mlflow,
        palette,
        api_reference,
    ):
        app.include_router(module.router, dependencies=protected)

    errors.install(app)
    return app
