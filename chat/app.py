"""The chat builder's web app: /healthz, /login and the Gradio Blocks UI at /, behind the door
(chat.door: the dashboard's access token, origins, CSRF)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chat import door
from chat.theme import CSS_PATH, dashboard_theme
from chat.ui import build_ui
from configurable_agents import access
from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings
from configurable_agents.status.health import health_report


def create_app(settings: Settings, database: Database) -> FastAPI:
    """FastAPI app with the Gradio UI mounted at the root."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        print(f"chat ready at {settings.chat_url}", flush=True)
        yield

    app = FastAPI(
        title="configurable-agents chat", lifespan=lifespan, docs_url=None, redoc_url=None
    )

    app.state.settings = settings

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        detailed = access.is_authorised(
            settings.dashboard_access_token, request.headers, request.cookies
        )
        report, healthy = await run_in_threadpool(
            health_report, "chat", database.engine, detailed=detailed
        )
        return JSONResponse(report, status_code=200 if healthy else 503)

    # Before the mount: Gradio at / would otherwise answer /login itself.
    app.include_router(door.router)
    # Outermost: every request meets the door before Gradio (and Gradio's own CORS) sees it.
    app.add_middleware(door.DoorMiddleware, settings=settings)
    return gr.mount_gradio_app(
        app,
        build_ui(settings, database),
        path="/",
        theme=dashboard_theme(),
        css_paths=[CSS_PATH],
        # No footer links to gradio.app, and no run history (it offers a Hugging Face bucket).
        footer_links=[],
        run_history=False,
        mcp_server=False,
        ssr_mode=False,
    )
