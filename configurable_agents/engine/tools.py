"""The tool registry: what each `tool` node kind does when it runs.

Every tool is bounded: HTTP requests have a timeout and a size limit, files stay inside
the workspace folder, the calculator evaluates arithmetic only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from configurable_agents.config.conditions import get_path
from configurable_agents.config.expressions import evaluate_expression
from configurable_agents.config.jsonpath import extract
from configurable_agents.config.schema import (
    CalculatorNode,
    CurrentTimeNode,
    FileReadNode,
    FileWriteNode,
    HttpRequestNode,
    JsonPathNode,
)
from configurable_agents.config.templates import render_template
from configurable_agents.config.tools import resolve_in_workspace


class ToolError(Exception):
    """A tool could not do its job; the message says what and where."""


@dataclass
class ToolResult:
    """What a tool produced: the value for its output field and what it was asked."""

    value: Any
    request: dict[str, Any]


def _read_secret_header(env: Mapping[str, str], header: str, variable: str) -> str:
    value = env.get(variable)
    if not value:
        raise ToolError(f"header {header}: environment variable {variable} is not set")
    return value


def http_request(
    node: HttpRequestNode, state: Mapping[str, Any], env: Mapping[str, str], output_type: str | None
) -> ToolResult:
    """Send the request; stop reading past max_bytes; JSON is parsed for non-str outputs."""
    import httpx

    args = node.args
    url = render_template(args.url, state)
    headers = {name: render_template(value, state) for name, value in args.headers.items()}
    shown = {"method": args.method, "url": url, "headers": dict(headers)}
    for name, variable in args.secret_headers.items():
        headers[name] = _read_secret_header(env, name, variable)
        shown["headers"][name] = f"<from ${variable}>"
    body = render_template(args.body, state) if args.body is not None else None
    try:
        with (
            httpx.Client(timeout=args.timeout, follow_redirects=True) as client,
            client.stream(args.method, url, headers=headers, content=body) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > args.max_bytes:
                    raise ToolError(
                        f"{args.method} {url}: response larger than max_bytes={args.max_bytes}"
                    )
                chunks.append(chunk)
            status = response.status_code
            encoding = response.encoding or "utf-8"
    except httpx.TimeoutException:
        raise ToolError(f"{args.method} {url}: no answer within {args.timeout} s") from None
    except httpx.HTTPError as error:
        raise ToolError(f"{args.method} {url}: {type(error).__name__}: {error}") from None
    text = b"".join(chunks).decode(encoding, errors="replace")
    if status >= 400:
        raise ToolError(f"{args.method} {url}: HTTP {status}: {text[:200]}")
    value: Any = text
    if output_type is not None and output_type != "str":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ToolError(f"{args.method} {url}: the answer is not JSON ({error})") from None
    return ToolResult(value, shown)


def file_read(node: FileReadNode, state: Mapping[str, Any], workspace: Path) -> ToolResult:
    """Read a text file inside the workspace."""
    rendered = render_template(node.args.path, state)
    try:
        path = resolve_in_workspace(workspace, rendered)
    except ValueError as error:
        raise ToolError(f"file_read {rendered!r}: {error}") from None
    if not path.is_file():
        raise ToolError(f"file_read {rendered!r}: no such file in the workspace")
    if path.stat().st_size > node.args.max_bytes:
        raise ToolError(f"file_read {rendered!r}: larger than max_bytes={node.args.max_bytes}")
    return ToolResult(path.read_text(encoding="utf-8", errors="replace"), {"path": rendered})


def file_write(node: FileWriteNode, state: Mapping[str, Any], workspace: Path) -> ToolResult:
    """Write or append a text file inside the workspace; the value is its relative path."""
    rendered = render_template(node.args.path, state)
    try:
        path = resolve_in_workspace(workspace, rendered)
    except ValueError as error:
        raise ToolError(f"file_write {rendered!r}: {error}") from None
    content = render_template(node.args.content, state)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if node.args.mode == "append" else "w", encoding="utf-8") as handle:
        handle.write(content)
    return ToolResult(
        rendered, {"path": rendered, "mode": node.args.mode, "bytes": len(content.encode())}
    )


def calculator(node: CalculatorNode, state: Mapping[str, Any]) -> ToolResult:
    """Evaluate the arithmetic expression over numeric state fields."""
    try:
        value = evaluate_expression(node.args.expression, state)
    except (ValueError, ArithmeticError) as error:
        raise ToolError(f"calculator {node.args.expression!r}: {error}") from None
    return ToolResult(value, {"expression": node.args.expression})


def current_time(node: CurrentTimeNode, now: datetime | None = None) -> ToolResult:
    """The time now in the node's time zone, ISO 8601 unless a format is given."""
    moment = (now or datetime.now(UTC)).astimezone(ZoneInfo(node.args.timezone))
    text = moment.strftime(node.args.format) if node.args.format else moment.isoformat()
    return ToolResult(text, {"timezone": node.args.timezone})


def json_path(node: JsonPathNode, state: Mapping[str, Any]) -> ToolResult:
    """Extract from JSON held in a state field (text is parsed first)."""

    data = get_path(state, node.args.source)
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise ToolError(f"json_path: {node.args.source} is not JSON ({error})") from None
    try:
        value = extract(data, node.args.path)
    except ValueError as error:
        raise ToolError(f"json_path {node.args.path!r}: {error}") from None
    return ToolResult(value, {"source": node.args.source, "path": node.args.path})
