"""The tool registry as the language sees it: each tool's name and its typed ``args``.

The engine runs the tools; this module says what a config may ask of them, and holds the
checks both sides share (paths stay inside the workspace folder, URLs are http(s)).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from configurable_agents.config.expressions import expression_fields
from configurable_agents.config.jsonpath import parse_json_path
from configurable_agents.config.names import EnvVarName, FieldPath, Template, looks_like_secret
from configurable_agents.config.state import StrictModel
from configurable_agents.config.templates import Reference, parse_template

TOOL_NAMES = ("http_request", "file_read", "file_write", "calculator", "current_time", "json_path")


def _literal_text(template: str) -> str:
    """The template with each reference replaced by a harmless placeholder."""
    return "".join(
        "x" if isinstance(part, Reference) else part for part in parse_template(template)
    )


def workspace_path_problem(path: str) -> str | None:
    """Why a path is not a relative path inside the workspace, or None when it is."""
    if not path.strip():
        return "the path is empty"
    if path.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", path):
        return "the path must be relative to the workspace folder, not absolute"
    if ".." in re.split(r"[\\/]", path):
        return "the path must stay inside the workspace folder: '..' is not allowed"
    if "\x00" in path:
        return "the path contains a NUL character"
    return None


def resolve_in_workspace(workspace: Path, path: str) -> Path:
    """The absolute file a rendered tool path names; raises ValueError when it would leave
    the workspace (absolute, '..', or a symlink pointing out)."""
    problem = workspace_path_problem(path)
    if problem:
        raise ValueError(problem)
    root = workspace.resolve()
    target = (root / PurePosixPath(path.replace("\\", "/"))).resolve()
    if not target.is_relative_to(root):
        raise ValueError("the path leads outside the workspace folder")
    return target


def _check_workspace_path(value: str) -> str:
    problem = workspace_path_problem(_literal_text(value))
    if problem:
        raise ValueError(problem)
    return value


def _check_url(value: str) -> str:
    # A URL taken whole from a field is checked when the request is made (http(s) only).
    head = parse_template(value)[0]
    if isinstance(head, str) and not re.match(r"^https?://[^/]", head, re.IGNORECASE):
        raise ValueError(
            "the URL must start with http:// or https:// and a host "
            "(e.g. https://example.com/items/{item_id})"
        )
    return value


def _check_no_secret(value: str) -> str:
    if looks_like_secret(_literal_text(value).strip()):
        raise ValueError(
            "this looks like a credential: never write secrets in a config; "
            "use secret_headers to send a header from an environment variable"
        )
    return value


def _parses(parse: Callable[[str], object]) -> Callable[[str], str]:
    # The parsers raise ValueError subclasses naming the problem: pydantic reports those.
    def check(value: str) -> str:
        parse(value)
        return value

    return check


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{value}' (use an IANA name such as UTC or Europe/Paris)"
        ) from None
    return value


WorkspacePath = Annotated[Template, AfterValidator(_check_workspace_path)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]+$", max_length=100)]


class HttpRequestArgs(StrictModel):
    """Fetch a URL: the response text (or parsed JSON for a list/dict/object output)."""

    url: Annotated[Template, AfterValidator(_check_url)] = Field(
        description="http(s) URL template, e.g. https://api.example.com/items/{item_id}"
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[HeaderName, Annotated[Template, AfterValidator(_check_no_secret)]] = {}
    secret_headers: dict[HeaderName, EnvVarName] = Field(
        default={}, description="Header name -> NAME of the environment variable holding its value."
    )
    body: Template | None = None
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds.")
    max_bytes: int = Field(default=1_000_000, ge=1, le=50_000_000)


class FileReadArgs(StrictModel):
    """Read a text file inside the workspace folder."""

    path: WorkspacePath = Field(description="Relative to the workspace folder; no '..'.")
    max_bytes: int = Field(default=1_000_000, ge=1, le=50_000_000)


class FileWriteArgs(StrictModel):
    """Write (or append to) a text file inside the workspace folder."""

    path: WorkspacePath = Field(description="Relative to the workspace folder; no '..'.")
    content: Template
    mode: Literal["overwrite", "append"] = "overwrite"


class CalculatorArgs(StrictModel):
    """Arithmetic over numbers and numeric state fields."""

    expression: Annotated[str, AfterValidator(_parses(expression_fields))] = Field(
        description="e.g. round(price * quantity * 1.2, 2)"
    )


class CurrentTimeArgs(StrictModel):
    """The current date and time."""

    timezone: TimeZone = "UTC"
    format: str | None = Field(default=None, description="strftime pattern; ISO 8601 when not set.")


class JsonPathArgs(StrictModel):
    """Extract a value from JSON held in a state field."""

    source: FieldPath = Field(description="The state field holding the JSON data or text.")
    path: Annotated[str, AfterValidator(_parses(parse_json_path))] = Field(
        description="e.g. $.items[0].title or $.items[*].id"
    )
