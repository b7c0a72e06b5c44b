"""Metrics: cost, tokens and latency over time per workflow or model, as SVG charts, CSV
and JSON."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from dashboard import queries
from dashboard.charts import line_chart
from dashboard.deps import DB
from dashboard.errors import InvalidQueryError
from dashboard.render import format_cost, page
from dashboard.schemas import MetricRowOut, MetricsOut

router = APIRouter()


def metrics_context(session: Session, range_: str, group: str) -> dict[str, Any]:
    """The numbers behind the charts and their totals; a bad range or group names itself."""
    if range_ not in queries.RANGES:
        raise InvalidQueryError("range", f"range must be one of {', '.join(queries.RANGES)}")
    if group not in ("workflow", "model"):
        raise InvalidQueryError("group", "group must be workflow or model")
    data = queries.metrics(session, range_=range_, group_by=group)
    return {"data": data, "totals": data.totals(), "ranges": list(queries.RANGES)}


def charts(data: queries.Metrics) -> dict[str, Any]:
    """The three SVG charts of the page."""
    return {
        "Cost": line_chart(data.buckets, data.series("cost"), title="Cost (USD)", fmt=format_cost),
        "Tokens": line_chart(data.buckets, data.series("tokens"), title="Tokens"),
        "Latency": line_chart(
            data.buckets,
            data.series("latency_ms"),
            title="Mean step latency (ms)",
            fmt=lambda v: f"{v:,.0f} ms",
        ),
    }


def metrics_csv(data: queries.Metrics) -> str:
    """The numbers behind the charts, one row per bucket and group."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["bucket", data.group_by, "steps", "tokens", "cost_usd", "mean_latency_ms"])
    for row in data.rows:
        writer.writerow(
            [
                row.bucket,
                row.group,
                row.steps,
                row.tokens,
                f"{row.cost:.6f}",
                f"{row.latency_ms:.1f}",
            ]
        )
    return out.getvalue()


@router.get("/metrics", response_class=HTMLResponse, include_in_schema=False)
def metrics_page(
    request: Request, session: DB, range: str = "7d", group: str = "workflow"
) -> HTMLResponse:
    context = metrics_context(session, range, group)
    return page(request, "metrics.html", {**context, "charts": charts(context["data"])})


@router.get("/metrics.csv", include_in_schema=False)
def metrics_download(session: DB, range: str = "7d", group: str = "workflow") -> Response:
    data = metrics_context(session, range, group)["data"]
    filename = f"metrics-{group}-{range}.csv"
    return Response(
        metrics_csv(data),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/api/v1/metrics", response_model=MetricsOut, tags=["metrics"])
def get_metrics(
    session: DB,
    range: Annotated[str, Query(pattern="^(24h|7d|30d)$")] = "7d",
    group: Annotated[str, Query(pattern="^(workflow|model)$")] = "workflow",
) -> Any:
    """Cost, tokens and mean step latency per time bucket and per workflow or model."""
    data = metrics_context(session, range, group)["data"]
    return MetricsOut(
        range=data.range,
        group_by=data.group_by,
        buckets=data.buckets,
        rows=[MetricRowOut(**row.__dict__) for row in data.rows],
    )
