"""Input hygiene at the door: every request's parameters and body, checked once.

One dependency on every router that stores or looks things up: path and query parameters,
a JSON body and a form body go through ``storage.values`` before any handler runs, so
text no database can keep (a lone surrogate, NUL) and integers past 64 bits are refused
with 422 naming the field (``["body", "inputs", "text"]``, ``["path", "workflow_id"]``)
and nothing is stored. The repositories run the same check again for every other entry
point (webhooks, the CLI, the chat).
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from configurable_agents.storage.errors import UnstorableValueError
from configurable_agents.storage.values import int_problem, require_storable, text_problem

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_int(annotation: Any) -> bool:
    """Whether a parameter is declared as an integer (``int`` or ``int | None``)."""
    if annotation is int:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(arg is int for arg in typing.get_args(annotation))
    return False


def integer_params(route: Any) -> set[tuple[str, str]]:
    """The (location, name) of every integer path and query parameter a route declares."""
    if not isinstance(route, APIRoute):
        return set()
    found: set[tuple[str, str]] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        for location, fields in (
            ("path", dependant.path_params),
            ("query", dependant.query_params),
        ):
            found |= {(location, f.alias) for f in fields if _is_int(f.field_info.annotation)}
        pending.extend(dependant.dependencies)
    return found


def check_param(location: str, name: str, value: str, *, integer: bool) -> None:
    """Refuse a parameter that cannot be stored or looked up (UnstorableValueError)."""
    reason = text_problem(value)
    if reason is None and integer:
        digits = value.strip().lstrip("+-")
        if digits.isdigit():
            reason = int_problem(int(value)) if len(digits) <= 40 else "is out of range"
    if reason:
        raise UnstorableValueError((location, name), reason)


async def check_request(request: Request) -> None:
    """The dependency: refuse a request carrying a value no database can keep."""
    integers = integer_params(request.scope.get("route"))
    for name, value in request.path_params.items():
        check_param("path", name, str(value), integer=("path", name) in integers)
    for name, value in request.query_params.multi_items():
        check_param("query", name, value, integer=("query", name) in integers)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = json.loads(await request.body())
        except ValueError:
            return  # not JSON: FastAPI answers that with its own 422
        require_storable(data, ("body",))
    elif content_type in FORM_TYPES:
        form = await request.form()
        for name, value in form.multi_items():
            if isinstance(value, str):
                check_param("body", name, value, integer=False)
