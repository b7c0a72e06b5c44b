"""Rendering a page: the whole document for a plain request, the main fragment for HTMX.

Every page template extends ``layout``: ``base.html`` (full document) or ``fragment.html``
(title, navigation swapped out-of-band, and the content only). HTMX's history restore
asks for the whole document, so that request gets it too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from configurable_agents.storage.states import RunState

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class NavItem:
    """One page of the navigation."""

    label: str
    path: str


NAVIGATION: tuple[tuple[str, tuple[NavItem, ...]], ...] = (
    (
        "Monitor",
        (
            NavItem("Home", "/"),
            NavItem("Runs", "/runs"),
            NavItem("Workflows", "/workflows"),
            NavItem("Agents", "/agents"),
        ),
    ),
    (
        "Create",
        (
            NavItem("Chat builder", "/chat"),
            NavItem("New workflow", "/workflows/new"),
            NavItem("Templates", "/templates"),
        ),
    ),
    (
        "Analyze",
        (
            NavItem("Metrics", "/metrics"),
            NavItem("Optimization", "/optimization"),
            NavItem("MLflow", "/mlflow"),
        ),
    ),
    (
        "System",
        (
            NavItem("Orchestrator", "/orchestrator"),
            NavItem("Settings", "/settings"),
        ),
    ),
)


def active_nav_path(path: str) -> str:
    """The navigation entry a URL belongs to: the longest matching path prefix ("" if none)."""
    if path == "/":
        return "/"
    best = ""
    for _, items in NAVIGATION:
        for item in items:
            prefix = item.path
            if prefix == "/":
                continue
            if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > len(best):
                best = prefix
    # /workflows/3/edit starts like no entry but /workflows; only /workflows/new itself is
    # "New workflow".
    if best == "/workflows/new" and path != "/workflows/new":
        best = "/workflows"
    return best


def is_fragment_request(request: Request) -> bool:
    """HTMX swaps a fragment into #main; a history restore needs the full document."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def _ago(value: datetime | None) -> str:
    """'12 s ago', '3 min ago', ... for a past moment."""
    if value is None:
        return "never"
    seconds = (datetime.now(UTC) - value).total_seconds()
    if seconds < 0:
        return "just now"
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600)):
        if seconds < limit:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds // 86400)} d ago"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return "-"
    seconds = ((end or datetime.now(UTC)) - start).total_seconds()
    return format_seconds(seconds)


def format_seconds(seconds: float) -> str:
    """1.2 s, 3 min 4 s, 2 h 5 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def format_cost(value: float | None) -> str:
    """Dollars with enough digits to see sub-cent costs."""
    value = value or 0.0
    if value == 0:
        return "$0.00"
    if value < 0.01:
        return f"${value:.5f}"
    return f"${value:,.2f}"


def format_bytes(value: int | None) -> str:
    """Bytes as MB below a gigabyte, GB above: 512 MB, 3.4 GB."""
    value = value or 0
    if value < 1024**3:
        return f"{value / 1024**2:,.0f} MB"
    return f"{value / 1024**3:,.1f} GB"


# Characters a page cannot carry as they are: a lone surrogate cannot be encoded as UTF-8,
# and browsers drop NUL. Rows stored before the door refused them still exist.
_UNSHOWABLE = re.compile("[\x00\ud800-\udfff]")


def shown_escaped(value: Any) -> Any:
    """Text with each unshowable character written as its escape (``\\ud800``, ``\\x00``);
    anything else as it is. The template environment's finalize: every ``{{ }}`` output."""
    if not isinstance(value, str) or _UNSHOWABLE.search(value) is None:
        return value
    text = _UNSHOWABLE.sub(
        lambda m: "\\x00" if m.group() == "\x00" else f"\\u{ord(m.group()):04x}", value
    )
    return Markup(text) if isinstance(value, Markup) else text


class ApiJSONResponse(JSONResponse):
    """JSON that always encodes: a lone surrogate read from an old row goes out as its
    ``\\udXXX`` escape (valid JSON, the same string once parsed) instead of a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode("utf-8", "backslashreplace")


def _tojson_pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def build_templates() -> Jinja2Templates:
    """The one template environment (autoescaping on for every .html template)."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.finalize = shown_escaped
    env.filters["ago"] = _ago
    env.filters["when"] = _when
    env.filters["cost"] = format_cost
    env.filters["bytes"] = format_bytes
    env.filters["pretty"] = _tojson_pretty
    env.globals["duration"] = _duration
    env.globals["navigation"] = NAVIGATION
    env.globals["RunState"] = RunState  # templates name run states as the code does
    return templates


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page template as a full document or as the #main fragment."""
    templates: Jinja2Templates = request.app.state.templates
    fragment = is_fragment_request(request)
    values = {
        "layout": "fragment.html" if fragment else "base.html",
        "active_path": active_nav_path(request.url.path),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "settings": request.app.state.settings,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    # The same URL answers two shapes: caches must key on the HTMX header.
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request"
    return response


def partial(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """Render one partial template (an in-page HTMX swap)."""
    templates: Jinja2Templates = request.app.state.templates
    values = {
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "settings": request.app.state.settings,
        **context,
    }
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def redirect(request: Request, url: str) -> Response:
    """After a successful form post: HTMX loads the target into #main and pushes its URL."""
    if request.headers.get("hx-request") == "true":
        location = json.dumps({"path": url, "target": "#main", "swap": "innerHTML show:window:top"})
        return Response(status_code=200, headers={"HX-Location": location})
    return RedirectResponse(url, status_code=303)
