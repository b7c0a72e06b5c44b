"""/api/docs: the JSON API's reference, drawn on the server from the OpenAPI schema.

FastAPI's own docs page loads Swagger UI from a CDN, which an offline machine cannot
reach; this page needs nothing but the schema at /api/v1/openapi.json.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.render import page

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


def schema_name(schema: dict[str, Any] | None) -> str:
    """A readable type for a schema: a model's name, list[...], or the JSON type."""
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list[{schema_name(schema.get('items'))}]"
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return " | ".join(schema_name(option) for option in options)
    return str(schema.get("type", "any"))


def operations(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every operation of the schema, grouped by its first tag."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            groups.setdefault((operation.get("tags") or ["other"])[0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": schema_name(p.get("schema")),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": schema_name(body.get("schema")),
                    "responses": {
                        code: answer.get("description", "")
                        for code, answer in operation.get("responses", {}).items()
                    },
                }
            )
    return groups


def models(spec: dict[str, Any]) -> dict[str, list[tuple[str, str, bool]]]:
    """Each model's fields: (name, type, required)."""
    found = {}
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        found[name] = [
            (field, schema_name(value), field in required)
            for field, value in schema.get("properties", {}).items()
        ]
    return found


@router.get("/api/docs", response_class=HTMLResponse)
def api_reference(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return page(
        request,
        "api_reference.html",
        {"spec": spec, "groups": operations(spec), "models": models(spec)},
    )
