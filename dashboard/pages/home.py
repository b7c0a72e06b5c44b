"""Home: the state of the set at a glance (key figures, running now, recent errors,
system resources), live; and its JSON twins, the status snapshot and the figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from configurable_agents.storage.states import RunState
from dashboard.deps import latest_snapshot
from dashboard.live.snapshot import LiveSnapshot
from dashboard.render import format_cost, page

router = APIRouter()

CRITICAL, WARNING, INFO = "critical", "warning", "info"
TIER_ORDER = {CRITICAL: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class Figure:
    """One key figure of Home."""

    key: str
    label: str
    value: str
    tier: str
    detail: str = ""
    href: str = ""


def key_figures(snapshot: LiveSnapshot | None) -> list[Figure]:
    """Runs in the last 24 h, cost today, workers, queue depth, service health: worst first."""
    if snapshot is None:
        return []
    figures: list[Figure] = []
    runs_24h: dict[str, int] = getattr(snapshot, "runs_24h", {}) or {}
    failed = runs_24h.get(RunState.FAILED, 0)
    total = sum(runs_24h.values())
    breakdown = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in runs_24h.items() if n)
    figures.append(
        Figure(
            "runs-24h",
            "Runs, last 24 h",
            str(total),
            WARNING if failed else INFO,
            breakdown or "none yet",
            "/runs",
        )
    )
    figures.append(
        Figure(
            "cost-today",
            "Cost today",
            format_cost(getattr(snapshot, "cost_today", 0.0)),
            INFO,
            "all runs started since midnight UTC",
            "/metrics",
        )
    )
    queued = snapshot.queue_depth
    workers = snapshot.workers_alive
    worker_tier = INFO
    if workers == 0:
        worker_tier = CRITICAL if queued else WARNING
    figures.append(
        Figure(
            "workers",
            "Workers alive",
            str(workers),
            worker_tier,
            "queued runs wait until a worker starts: `honcho start worker`"
            if workers == 0
            else "heartbeating within their TTL",
            "/agents",
        )
    )
    figures.append(
        Figure(
            "queue-depth",
            "Queue depth",
            str(queued),
            WARNING if queued and workers == 0 else INFO,
            "runs waiting for a worker",
            "/orchestrator",
        )
    )
    down = [service.name for service in snapshot.services if not service.healthy]
    database = snapshot.database
    if not database.reachable:
        down.insert(0, "database")
    figures.append(
        Figure(
            "services",
            "Services",
            "all up" if not down else f"{len(down)} down",
            CRITICAL if not database.reachable else (WARNING if down else INFO),
            ", ".join(down) if down else "dashboard, chat, MLflow, database",
            "/settings",
        )
    )
    return sorted(figures, key=lambda figure: TIER_ORDER[figure.tier])[:5]


def home_context(snapshot: LiveSnapshot) -> dict[str, Any]:
    """What Home shows, from the latest snapshot."""
    return {"snapshot": snapshot, "figures": key_figures(snapshot), "resources": snapshot.resources}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    return page(request, "home.html", home_context(await latest_snapshot(request)))


@router.get("/api/v1/status", tags=["status"])
async def api_status(request: Request) -> dict[str, Any]:
    """The latest status snapshot of the set (same data as the live stream)."""
    return (await latest_snapshot(request)).as_dict()


@router.get("/api/v1/home", tags=["status"])
async def api_home(request: Request) -> dict[str, Any]:
    """What Home shows: its key figures (worst first) and the status snapshot."""
    context = home_context(await latest_snapshot(request))
    return {
        "figures": [asdict(figure) for figure in context["figures"]],
        "status": context["snapshot"].as_dict(),
    }
