"""The chat builder's web app: /healthz plus the Gradio Blocks UI at /."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chat.theme import CSS_PATH, dashboard_theme
from chat.ui import build_ui
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

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        report, healthy = await run_in_threadpool(health_report, "chat", database.engine)
        return JSONResponse(report, status_code=200 if healthy else 503)

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
