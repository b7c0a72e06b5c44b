"""GET /healthz: process up, database reachable, schema at head (details with the token)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from configurable_agents import access
from configurable_agents.status.health import health_report

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    token = request.app.state.settings.dashboard_access_token
    report, healthy = await run_in_threadpool(
        health_report,
        "dashboard",
        request.app.state.database.engine,
        detailed=access.is_authorised(token, request.headers, request.cookies),
    )
    return JSONResponse(report, status_code=200 if healthy else 503)
