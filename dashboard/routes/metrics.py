"""Metrics: cost, tokens and latency over time per workflow or model, as SVG charts and CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from dashboard import queries
from dashboard.charts import line_chart
from dashboard.deps import db_session
from dashboard.render import format_cost, page

router = APIRouter(include_in_schema=False)
DB = Annotated[Session, Depends(db_session)]


def load_metrics(session: Session, range_: str, group: str) -> queries.Metrics:
    try:
        return queries.metrics(session, range_=range_, group_by=group)
    except ValueError as error:
        raise HTTPException(400, str(error)) from None


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


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(
    request: Request, session: DB, range: str = "7d", group: str = "workflow"
) -> HTMLResponse:
    data = load_metrics(session, range, group)
    charts = {
        "Cost": line_chart(data.buckets, data.series("cost"), title="Cost (USD)", fmt=format_cost),
        "Tokens": line_chart(data.buckets, data.series("tokens"), title="Tokens"),
        "Latency": line_chart(
            data.buckets,
            data.series("latency_ms"),
            title="Mean step latency (ms)",
            fmt=lambda v: f"{v:,.0f} ms",
        ),
    }
    return page(
        request,
        "metrics.html",
        {"data": data, "charts": charts, "totals": data.totals(), "ranges": list(queries.RANGES)},
    )


@router.get("/metrics.csv")
def metrics_download(session: DB, range: str = "7d", group: str = "workflow") -> Response:
    data = load_metrics(session, range, group)
    filename = f"metrics-{group}-{range}.csv"
    return Response(
        metrics_csv(data),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
