"""MCP servers a workflow may call, as the language declares them.

A server is declared once: in the workflow's ``mcp_servers:`` or in the shared file named
by the MCP_SERVERS_FILE setting (same shape, top-level ``mcp_servers:``). Two transports:

- ``stdio``: the platform starts ``command`` with ``args`` and talks over its standard
  input and output; ``env`` lists the NAMES of environment variables passed on to it
  (their values come from the worker's environment, never from a config);
- ``http`` (streamable HTTP): ``url``, and ``secret_headers`` mapping a header to the NAME
  of the environment variable holding its value.

The shared file is read once per process (``use_shared_servers``, called at start by
``bootstrap.start_process``); the names it declares are known to every workflow's checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError

from configurable_agents.config._yaml import parse_marked, problem_issues
from configurable_agents.config.errors import ConfigError, ConfigIssue, format_path, sort_issues
from configurable_agents.config.names import env_name_type, looks_like_secret
from configurable_agents.config.state import StrictModel

SERVER_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
_SERVER_NAME = re.compile(SERVER_NAME_PATTERN)
# Header names as HTTP spells them.
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def _check_server_name(value: str) -> str:
    if len(value) > 64 or not _SERVER_NAME.match(value):
        raise ValueError(
            f"'{value}' is not a valid MCP server name: use letters, digits, '-' and '_', "
            "starting with a letter (e.g. files, github)"
        )
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an http:// or https:// URL, e.g. http://127.0.0.1:8000/mcp")
    if parts.username or parts.password:
        raise ValueError("url must not carry credentials: use secret_headers")
    return value


def _check_header(value: str) -> str:
    if not _HEADER_NAME.match(value) or len(value) > 100:
        raise ValueError(f"'{value}' is not a valid HTTP header name")
    return value


def _check_argument(value: str) -> str:
    if looks_like_secret(value):
        raise ValueError(
            "this looks like a credential: never write secrets in a config; "
            "list the NAME of an environment variable under env instead"
        )
    return value


ServerName = Annotated[
    str,
    AfterValidator(_check_server_name),
    Field(json_schema_extra={"pattern": SERVER_NAME_PATTERN, "maxLength": 64}),
]
EnvName = env_name_type(
    "give the NAME of an environment variable (e.g. GITHUB_TOKEN), never its value; "
    "use uppercase letters, digits and '_'"
)
HeaderName = Annotated[str, AfterValidator(_check_header)]


class StdioServer(StrictModel):
    """An MCP server started by the platform and spoken to over its standard input/output.

    The process is reused by every call of a worker and stopped with the worker."""

    transport: Literal["stdio"]
    command: Annotated[str, Field(min_length=1, max_length=1000)] = Field(
        description="The program to start, e.g. python or npx."
    )
    args: list[Annotated[str, AfterValidator(_check_argument), Field(max_length=4000)]] = []
    env: list[EnvName] = Field(
        default=[],
        description="NAMES of environment variables passed on to the server (values are "
        "read from the worker's environment, never written here).",
    )
    timeout: float = Field(default=60.0, gt=0, le=3600, description="Seconds per call.")


class HttpServer(StrictModel):
    """An MCP server reached over streamable HTTP."""

    transport: Literal["http"]
    url: Annotated[str, AfterValidator(_check_url)]
    secret_headers: dict[HeaderName, EnvName] = Field(
        default={},
        description="Header name -> NAME of the environment variable holding its value.",
    )
    timeout: float = Field(default=60.0, gt=0, le=3600, description="Seconds per call.")


McpServerConfig = Annotated[StdioServer | HttpServer, Field(discriminator="transport")]
TRANSPORTS = ("stdio", "http")


class ServersFile(StrictModel):
    """The shared file of MCP servers (MCP_SERVERS_FILE)."""

    mcp_servers: dict[ServerName, McpServerConfig] = {}


# --- the shared servers of this process -------------------------------------------------------

_shared: dict[str, StdioServer | HttpServer] = {}


def shared_servers() -> Mapping[str, StdioServer | HttpServer]:
    """The servers of the MCP_SERVERS_FILE this process read at start (empty without one)."""
    return _shared


def use_shared_servers(servers: Mapping[str, StdioServer | HttpServer]) -> None:
    """Make these the shared servers of this process (read at start; tests set their own)."""
    _shared.clear()
    _shared.update(servers)


def server_named(
    name: str, declared: Mapping[str, StdioServer | HttpServer]
) -> StdioServer | HttpServer | None:
    """The server a workflow means by ``name``: its own declaration, else the shared one."""
    return declared.get(name) or _shared.get(name)


def load_servers_file(path: Path) -> dict[str, StdioServer | HttpServer]:
    """The servers of a shared file; raises ConfigError with file:line:col problems."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError([ConfigIssue(file, None, None, "", f"cannot read: {reason}")]) from None
    marked, problems = parse_marked(text)
    issues = problem_issues(problems, file)
    if marked is None or issues:
        raise ConfigError(issues)
    try:
        return dict(ServersFile.model_validate(marked.data or {}).mcp_servers)
    except ValidationError as error:
        for item in error.errors():
            loc = _without_tags(tuple(item["loc"]))
            at_key = item["type"] == "extra_forbidden"
            mark = marked.mark_of(loc, key=at_key)
            message = str(item["msg"]).removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = f"unknown key '{loc[-1]}'"
            elif item["type"] == "missing":
                message = f"missing required key '{loc[-1]}'"
            elif item["type"] in ("union_tag_invalid", "union_tag_not_found"):
                message = f"transport must be one of {', '.join(TRANSPORTS)}"
                loc = (*loc, "transport")
            issues.append(
                ConfigIssue(
                    file,
                    mark.line if mark else None,
                    mark.column if mark else None,
                    format_path(loc),
                    message,
                )
            )
        raise ConfigError(sort_issues(issues)) from None


def _without_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # pydantic puts the union tag after a server's name: mcp_servers.<name>.<tag>.<field>.
    if len(loc) >= 3 and loc[0] == "mcp_servers" and loc[2] in TRANSPORTS:
        return (*loc[:2], *loc[3:])
    return loc
