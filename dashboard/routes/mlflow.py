"""MLflow: its UI inside the workspace, served through a reverse proxy under /mlflow/ui/.

MLflow answers with ``X-Frame-Options: SAMEORIGIN``, so a frame pointing at its own port
is blocked. The dashboard therefore streams MLflow's UI (HTML, assets, ajax-api calls, all
relative URLs) under its own origin; the frame is then same-origin. The proxy sits behind
the dashboard's access token, and only same-origin pages may send it state-changing calls.
When MLflow is down the page says so and the rest of the dashboard is unaffected.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from dashboard.deps import http_client, is_up, settings_of
from dashboard.render import page

router = APIRouter(include_in_schema=False)
proxy_router = APIRouter(include_in_schema=False)
PREFIX = "/mlflow/ui"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Not forwarded to MLflow: the dashboard's own cookies and token, and the browser's origin
# (MLflow checks Host/Origin against itself; the proxy is the client it sees).
DROP_REQUEST = HOP_BY_HOP | {
    "host",
    "cookie",
    "authorization",
    "origin",
    "referer",
    "content-length",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@router.get("/mlflow", response_class=HTMLResponse)
async def mlflow_page(request: Request, run: str = "") -> HTMLResponse:
    settings = settings_of(request)
    up = await is_up(request, f"{settings.mlflow_url}/health")
    fragment = f"#/runs/{run}" if run else ""
    return page(
        request,
        "mlflow.html",
        {
            "up": up,
            "frame_url": f"{PREFIX}/{fragment}",
            "direct_url": f"{settings.mlflow_url}/{fragment}",
            "run": run,
        },
    )


def same_origin(request: Request) -> bool:
    """Whether a browser request comes from a page of this origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin.rstrip("/") == str(request.base_url).rstrip("/")


@proxy_router.get(PREFIX)
async def mlflow_root() -> RedirectResponse:
    # MLflow's UI uses relative URLs: it must be served from a path ending in "/".
    return RedirectResponse(f"{PREFIX}/", status_code=307)


@proxy_router.api_route(
    PREFIX + "/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
)
async def mlflow_proxy(request: Request, path: str) -> Response:
    if request.method not in SAFE_METHODS and not same_origin(request):
        return Response("cross-site request refused", status_code=403)
    settings = settings_of(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROP_REQUEST}
    client = http_client(request)
    upstream = client.build_request(
        request.method,
        f"{settings.mlflow_url}/{path}",
        params=request.query_params,
        headers=headers,
        # Read whole: MLflow's UI sends small JSON bodies, and a sized body suits every server.
        content=await request.body() if request.method not in SAFE_METHODS else None,
    )
    try:
        answer = await client.send(upstream, stream=True)
    except httpx.HTTPError as error:
        message = (
            "MLflow is not running"
            if isinstance(error, httpx.ConnectError)
            else f"MLflow did not answer ({type(error).__name__})"
        )
        return Response(
            f"{message}: start it with `honcho start mlflow`.",
            status_code=502,
            media_type="text/plain",
        )
    out_headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
    return StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        headers=out_headers,
        background=BackgroundTask(answer.aclose),
    )


async def close_proxy(app: FastAPI) -> None:
    """Close the shared HTTP client at shutdown."""
    client = getattr(app.state, "http", None)
    if client is not None:
        await client.aclose()
        app.state.http = None
