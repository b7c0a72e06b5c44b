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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    args = node.args
    url = render_template(args.url, state)
    headers = {name: render_template(value, state) for name, value in args.headers.items()}
    shown = {"method": args.method, "url": url, "headers": dict(headers)}
    for name, variable in args.secret_headers.items():
        headers[name] = _read_secret_header(env, name, variable)
        shown["headers"][name] = f"<from ${variable}>"
    body = render_template(args.body, state) if args.body is not None else None
    text = send_request(args.method, url, headers, body, args.timeout, args.max_bytes)
    value: Any = text
    if output_type is not None and output_type != "str":
        value = parse_json_answer(args.method, url, text)
    return ToolResult(value, shown)


def send_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: str | None,
    timeout: float,
    max_bytes: int,
) -> str:
    """The text of the answer to one HTTP request, read up to ``max_bytes``; ToolError
    for a timeout, a network error, a larger answer or an error status."""
    import httpx

    if not url.lower().startswith(("http://", "https://")):
        raise ToolError(f"{method} {url}: only http:// and https:// URLs can be fetched")
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream(method, url, headers=dict(headers), content=body) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ToolError(f"{method} {url}: response larger than max_bytes={max_bytes}")
                chunks.append(chunk)
            status = response.status_code
            encoding = response.encoding or "utf-8"
    except httpx.TimeoutException:
        raise ToolError(f"{method} {url}: no answer within {timeout} s") from None
    except httpx.HTTPError as error:
        raise ToolError(f"{method} {url}: {type(error).__name__}: {error}") from None
    text = b"".join(chunks).decode(encoding, errors="replace")
    if status >= 400:
        raise ToolError(f"{method} {url}: HTTP {status}: {text[:200]}")
    return text


def parse_json_answer(method: str, url: str, text: str) -> Any:
    """The answer's JSON, or ToolError saying it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ToolError(f"{method} {url}: the answer is not JSON ({error})") from None


def file_read(node: FileReadNode, state: Mapping[str, Any], workspace: Path) -> ToolResult:
    """Read a text file inside the workspace."""
    rendered = render_template(node.args.path, state)
    text = read_workspace_file(workspace, rendered, node.args.max_bytes)
    return ToolResult(text, {"path": rendered})


def read_workspace_file(workspace: Path, rendered: str, max_bytes: int) -> str:
    """The text of a file inside the workspace; ToolError when outside, missing or large."""
    try:
        path = resolve_in_workspace(workspace, rendered)
    except ValueError as error:
        raise ToolError(f"file_read {rendered!r}: {error}") from None
    if not path.is_file():
        raise ToolError(f"file_read {rendered!r}: no such file in the workspace")
    if path.stat().st_size > max_bytes:
        raise ToolError(f"file_read {rendered!r}: larger than max_bytes={max_bytes}")
    return path.read_text(encoding="utf-8", errors="replace")


def file_write(node: FileWriteNode, state: Mapping[str, Any], workspace: Path) -> ToolResult:
    """Write or append a text file inside the workspace; the value is its relative path."""
    rendered = render_template(node.args.path, state)
    content = render_template(node.args.content, state)
    size = write_workspace_file(workspace, rendered, content, node.args.mode)
    return ToolResult(rendered, {"path": rendered, "mode": node.args.mode, "bytes": size})


def write_workspace_file(workspace: Path, rendered: str, content: str, mode: str) -> int:
    """Write (mode overwrite) or append text to a file inside the workspace; its bytes."""
    try:
        path = resolve_in_workspace(workspace, rendered)
    except ValueError as error:
        raise ToolError(f"file_write {rendered!r}: {error}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if mode == "append" else "w", encoding="utf-8") as handle:
        handle.write(content)
    return len(content.encode())


def calculator(node: CalculatorNode, state: Mapping[str, Any]) -> ToolResult:
    """Evaluate the arithmetic expression over numeric state fields."""
    value = calculate(node.args.expression, state)
    return ToolResult(value, {"expression": node.args.expression})


def calculate(expression: str, values: Mapping[str, Any]) -> Any:
    """The value of an arithmetic expression over ``values``; ToolError when it has none."""
    try:
        return evaluate_expression(expression, values)
    except (ValueError, ArithmeticError) as error:
        raise ToolError(f"calculator {expression!r}: {error}") from None


def current_time(node: CurrentTimeNode, now: datetime | None = None) -> ToolResult:
    """The time now in the node's time zone, ISO 8601 unless a format is given."""
    text = time_now(node.args.timezone, node.args.format, now)
    return ToolResult(text, {"timezone": node.args.timezone})


def time_now(timezone: str, format: str | None = None, now: datetime | None = None) -> str:
    """The time now in a time zone, ISO 8601 unless a strftime format is given."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"current_time: unknown time zone {timezone!r}") from None
    moment = (now or datetime.now(UTC)).astimezone(zone)
    return moment.strftime(format) if format else moment.isoformat()


def json_path(node: JsonPathNode, state: Mapping[str, Any]) -> ToolResult:
    """Extract from JSON held in a state field (text is parsed first)."""

    data = get_path(state, node.args.source)
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise ToolError(f"json_path: {node.args.source} is not JSON ({error})") from None
    value = extract_path(data, node.args.path)
    return ToolResult(value, {"source": node.args.source, "path": node.args.path})


def extract_path(data: Any, path: str) -> Any:
    """What a JSON path selects in ``data``; ToolError for a bad path or no match."""
    try:
        return extract(data, path)
    except ValueError as error:
        raise ToolError(f"json_path {path!r}: {error}") from None
