"""The dashboard's one exception handler: each error to its HTTP status, in one table.

Routes raise; they do not catch to pick a status. A browser gets the error page with a
plain message, /api/v1 (or a JSON client) gets ``{"detail": ...}``: a message, or for
invalid fields the list FastAPI gives for body validation (``loc``, ``msg``, ``type``,
and ``line``/``column`` for config problems). A form page that can show the problem
beside its fields (the editor, a run form) catches that error itself to draw the form
again; everything else reaches this handler.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from configurable_agents.config.errors import (
    ConfigError,
    ConfigIssue,
    ConfigLayerError,
    InvalidInputsError,
)
from configurable_agents.experiments.errors import (
    DatasetError,
    DefinitionError,
    ExperimentLayerError,
    ExperimentStateError,
    PromoteError,
)
from configurable_agents.queue.errors import DispatchError
from configurable_agents.storage.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    UnstorableValueError,
)
from dashboard.queries import BadCursor
from dashboard.render import ApiJSONResponse as JSONResponse
from dashboard.render import page
from dashboard.schemas import ErrorOut

log = logging.getLogger("dashboard")
_PATH_PART = re.compile(r"[^.\[\]]+|\[\d+\]")


class InvalidQueryError(ValueError):
    """A query parameter a page or the API cannot use; names the parameter."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(message)


# The status of each kind of error a route may let through (the first matching class wins).
# Each layer's tree has one base per kind of mistake, so the table names bases only.
STATUS: tuple[tuple[tuple[type[Exception], ...], int], ...] = (
    ((NotFoundError,), 404),
    ((ConflictError, ExperimentStateError, PromoteError), 409),
    ((ConfigLayerError, InvalidValueError, ExperimentLayerError), 422),
    ((BadCursor,), 400),
)


def _subclasses(kind: type[Exception]) -> list[type[Exception]]:
    found = [kind]
    for sub in kind.__subclasses__():
        found.extend(_subclasses(sub))
    return found


# Every status a refusal to start or steer a run answers with (QueueFullError 429, ...).
DISPATCH_STATUSES = sorted(
    {int(getattr(kind, "status", 400)) for kind in _subclasses(DispatchError)}
)
DISPATCH: dict[int | str, dict[str, Any]] = {
    status: {
        "model": ErrorOut,
        "description": "The run cannot be started or steered: "
        + ", ".join(k.__name__ for k in _subclasses(DispatchError) if k.status == status),
    }
    for status in DISPATCH_STATUSES
}

Operation = dict[str, Any]
# The statuses any /api/ operation may answer besides those its route declares, and when:
# the door (auth), the CSRF check, the request check (dashboard/hygiene.py), the table
# above (404 for a missing row named in the path, BadCursor's 400) and the 500 fallback.
DOCUMENTED: tuple[tuple[int, str, Callable[[str, str, Operation], bool]], ...] = (
    (
        400,
        "The body cannot be parsed (not JSON, not UTF-8) or the page cursor is not valid",
        lambda method, path, op: (
            "requestBody" in op or any(p.get("name") == "cursor" for p in op.get("parameters", []))
        ),
    ),
    (
        401,
        "Missing or wrong access token (DASHBOARD_ACCESS_TOKEN off loopback; a remote "
        "agent's own token for its heartbeat and leaving)",
        lambda method, path, op: True,
    ),
    (
        403,
        "A state-changing call without a JSON body, bearer token or CSRF token",
        lambda method, path, op: method not in ("get", "head", "options"),
    ),
    (
        404,
        "Nothing with the id or name in the path",
        lambda method, path, op: "{" in path,
    ),
    (
        422,
        "Invalid fields, each with its path (text no database can keep, integers past 64 "
        "bits, config problems with line and column)",
        lambda method, path, op: True,
    ),
    (500, "A bug: the log has the details", lambda method, path, op: True),
)


# Paths only programs call: errors there are JSON, never a page.
JSON_PREFIXES = ("/api/", "/v1/")


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema with every error status each /api/ operation may answer, each
    with the one error body (ErrorOut)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in (
        ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        .pop("$defs", {})
        .items()
    ):
        components[name] = definition
    components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components["ErrorOut"].pop("$defs", None)
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for path, item in schema.get("paths", {}).items():
        if not path.startswith(JSON_PREFIXES):
            continue
        # /v1 answers errors in OpenAI's own shape, which its routes document themselves.
        openai_shape = path.startswith("/v1/")
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, description, applies in DOCUMENTED:
                if applies(method, path, operation):
                    responses.setdefault(str(status), {"description": description})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400 and not openai_shape:
                    response["content"] = error_body
    # FastAPI's own 422 shapes are replaced by ErrorOut everywhere.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def wants_json(request: Request) -> bool:
    """The API and JSON clients get JSON; a browser gets a page."""
    return request.url.path.startswith(JSON_PREFIXES) or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(
    request: Request, status: int, message: str, fields: list[dict[str, Any]] | None = None
) -> HTMLResponse | JSONResponse:
    """A friendly error: JSON for the API (the per-field list when there is one, else the
    message), a page with the message for a browser."""
    if wants_json(request):
        detail = fields if fields is not None else message
        return JSONResponse({"detail": detail}, status_code=status)
    return page(request, "error.html", {"status": status, "message": message}, status_code=status)


def path_parts(path: str) -> list[str | int]:
    """``nodes[0].prompt`` -> ``["nodes", 0, "prompt"]``."""
    return [
        int(token[1:-1]) if token.startswith("[") else token
        for token in _PATH_PART.findall(path or "")
    ]


def issue_errors(issues: list[ConfigIssue], field: str, kind: str) -> list[dict[str, Any]]:
    """Located issues of a YAML body field (a config, a definition), each at its path
    inside ``field`` with its line and column."""
    return [
        {
            "loc": ["body", field, *path_parts(issue.path)],
            "msg": issue.message,
            "type": kind,
            "line": issue.line,
            "column": issue.column,
        }
        for issue in issues
    ]


def field_errors(exc: Exception) -> list[dict[str, Any]] | None:
    """The per-field list for an error about fields (None for any other error)."""
    if isinstance(exc, ConfigError):
        return issue_errors(exc.issues, "config_yaml", "config")
    if isinstance(exc, DefinitionError):
        return issue_errors(exc.issues, "definition", "definition")
    if isinstance(exc, DatasetError):
        # One entry per bad row (row 1 is the first data row), or one for the whole file.
        return [
            {
                "loc": [
                    "body",
                    "dataset",
                    *([problem.row] if problem.row is not None else []),
                    *([problem.column] if problem.column else []),
                ],
                "msg": problem.message,
                "type": "dataset",
                "row": problem.row,
            }
            for problem in exc.problems
        ]
    if isinstance(exc, InvalidInputsError):
        return [
            {"loc": ["body", "inputs", name], "msg": message, "type": "value_error"}
            for name, message in exc.errors.items()
        ]
    if isinstance(exc, InvalidQueryError):
        return [{"loc": ["query", exc.param], "msg": str(exc), "type": "value_error"}]
    if isinstance(exc, UnstorableValueError):
        return [{"loc": list(exc.where), "msg": exc.reason, "type": "value_error"}]
    return None


def status_of(exc: Exception) -> int:
    """The HTTP status of an error (500 for one no table entry names)."""
    if isinstance(exc, DispatchError):
        return exc.status
    for kinds, status in STATUS:
        if isinstance(exc, kinds):
            return status
    return 500


async def handle(request: Request, exc: Exception) -> Response:
    """Answer an error raised by a route with its status and a plain message."""
    if isinstance(exc, InvalidQueryError):
        # The API reports a bad parameter as FastAPI does (422 with its loc); a page, 400.
        status = 422 if wants_json(request) else 400
        return error_response(request, status, str(exc), field_errors(exc))
    status = status_of(exc)
    if status == 500:
        # Never a traceback on a page: the log has it, the user gets a plain message.
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return error_response(
            request, 500, "Something went wrong on our side; the log has the details."
        )
    message = str(exc.args[0]) if exc.args else str(exc) or "not found"
    return error_response(request, status, message, field_errors(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 for an unknown URL, 405, ...) in the same two shapes."""
    assert isinstance(exc, StarletteHTTPException)
    return error_response(request, exc.status_code, str(exc.detail))


async def invalid_request(request: Request, exc: Exception) -> Response:
    """A request FastAPI could not validate: each field's problem with its path."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
            **{key: error[key] for key in ("line", "column") if key in error},
        }
        for error in exc.errors()
    ]
    lines = "; ".join(
        f"{'.'.join(str(part) for part in e['loc'][1:]) or 'request'}: {e['msg']}" for e in errors
    )
    return error_response(request, 422, f"Some fields are not right: {lines}", errors)


def install(app: FastAPI) -> None:
    """Install the handlers on the app, and document every status they answer in its
    OpenAPI schema (the app factory calls this once, after the routes)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    # Each known error by its class: Starlette answers these in the app's own middleware.
    known: list[type[Exception]] = [DispatchError, InvalidQueryError]
    for kinds, _ in STATUS:
        known.extend(kinds)
    for kind in known:
        app.add_exception_handler(kind, handle)
    # Anything else is a bug: logged, and a plain 500 instead of a traceback.
    app.add_exception_handler(Exception, handle)
