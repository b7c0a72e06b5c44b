"""Load a workflow config from YAML (or JSON) text, reporting every problem with its place.

Three passes, all reported together: YAML syntax and duplicate keys (with marks), the
pydantic models (each error's location mapped back to the line and column of the key or
value it concerns), and the cross-part checks of ``validate.py`` on whatever parts passed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from configurable_agents.config._yaml import MarkedData, parse_marked, problem_issues
from configurable_agents.config.errors import ConfigError, ConfigIssue, format_path
from configurable_agents.config.json_schema import workflow_json_schema
from configurable_agents.config.mcp import TRANSPORTS, ServersFile
from configurable_agents.config.names import FieldName
from configurable_agents.config.schema import (
    NODE_KINDS,
    TOOL_NODE_NAMES,
    Edge,
    Loc,
    MemoryConfig,
    Node,
    Schedule,
    StateField,
    WorkflowConfig,
)
from configurable_agents.config.validate import Finding, Parts, check_parts

MAX_CHARS = 1_000_000
_FILE_SUFFIXES = (".yaml", ".yml", ".json")
# Keys people write to put a credential in the config.
_SECRET_KEY = re.compile(
    r"^(api[_-]?key|key|secret|password|passwd|token|(access|auth|api)[_-]?token|bearer)$",
    re.IGNORECASE,
)
_NESTED_ONLY = ("required", "default")


def load_config(source: str | Path, *, filename: str | None = None) -> WorkflowConfig:
    """The workflow in a file (a Path, or a one-line str ending in .yaml/.yml/.json) or in
    YAML/JSON text; raises ConfigError listing every problem as file:line:col: path: message.
    """
    text, file = _read(source, filename)
    config, issues = check_text(text, file)
    if issues or config is None:
        raise ConfigError(issues)
    return config


def validate_text(text: str, filename: str = "<config>") -> list[ConfigIssue]:
    """Every problem of a config text (empty when valid): for editors that check as you type."""
    return check_text(text, filename)[1]


def config_from_data(data: Any, *, filename: str = "<data>") -> WorkflowConfig:
    """A config from already-parsed data (e.g. JSON from a model); raises ConfigError
    whose issues have paths but no line numbers."""
    config, findings = check_data(data)
    issues = [_issue(finding, None, filename) for finding in findings]
    if issues or config is None:
        raise ConfigError(issues)
    return config


def validate_config(config: WorkflowConfig, *, filename: str = "<config>") -> list[ConfigIssue]:
    """The cross-part problems of a config built in code (empty when valid)."""
    return [_issue(finding, None, filename) for finding in check_parts(Parts.of(config))]


def _read(source: str | Path, filename: str | None) -> tuple[str, str]:
    is_file = isinstance(source, Path) or (
        "\n" not in source and source.strip().lower().endswith(_FILE_SUFFIXES)
    )
    if not is_file:
        return str(source), filename or "<config>"
    path = Path(source)
    file = filename or str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(
            [ConfigIssue(file, None, None, "", f"cannot read the file: {reason}")]
        ) from None
    if len(raw) > MAX_CHARS:
        raise ConfigError(
            [ConfigIssue(file, None, None, "", f"the file is larger than {MAX_CHARS} bytes")]
        )
    try:
        return raw.decode("utf-8-sig"), file
    except UnicodeDecodeError as error:
        # Located like any other problem: the line, and the column in characters before it.
        line = raw.count(b"\n", 0, error.start) + 1
        start = raw.rfind(b"\n", 0, error.start) + 1
        column = len(raw[start : error.start].decode("utf-8-sig", "replace")) + 1
        raise ConfigError(
            [
                ConfigIssue(
                    file,
                    line,
                    column,
                    "",
                    f"the file is not UTF-8 text (byte {error.start + 1} is "
                    f"0x{raw[error.start]:02x})",
                )
            ]
        ) from None


def check_text(
    text: str, file: str = "<config>"
) -> tuple[WorkflowConfig | None, list[ConfigIssue]]:
    """The config and the problems of a text; the config is None unless there are none."""
    if len(text) > MAX_CHARS:
        return None, [
            ConfigIssue(file, 1, 1, "", f"the config is larger than {MAX_CHARS} characters")
        ]
    marked, problems = parse_marked(text)
    issues = problem_issues(problems, file)
    if marked is None:
        return None, issues
    config, findings = check_data(marked.data)
    issues += [_issue(finding, marked, file) for finding in findings]
    return (config if not issues else None), issues


def located_issues(text: str, file: str, findings: list[Finding]) -> list[ConfigIssue]:
    """Findings made outside the loader (e.g. by asking MCP servers) as issues with the
    line and column of what they concern in ``text``."""
    marked, _ = parse_marked(text)
    return [_issue(finding, marked, file) for finding in findings]


def _issue(finding: Finding, marked: MarkedData | None, file: str) -> ConfigIssue:
    mark = marked.mark_of(finding.path, key=finding.at_key) if marked else None
    return ConfigIssue(
        file,
        mark.line if mark else None,
        mark.column if mark else None,
        format_path(finding.path),
        finding.message,
    )


def check_data(data: Any) -> tuple[WorkflowConfig | None, list[Finding]]:
    """The config and every problem of parsed data (model errors and cross-part checks)."""
    if data is None:
        return None, [
            Finding((), "the config is empty: start with schema_version: 1, name, nodes and edges")
        ]
    if not isinstance(data, Mapping):
        hint = "; to load a file, pass a Path" if isinstance(data, str) else ""
        return None, [
            Finding(
                (),
                "a workflow config is a mapping of keys "
                f"(schema_version, name, state, nodes, edges, ...){hint}",
            )
        ]
    try:
        config = WorkflowConfig.model_validate(data)
    except ValidationError as error:
        findings = [_finding(item, data) for item in error.errors()]
        return None, findings + check_parts(_salvage(data))
    return config, check_parts(Parts.of(config))


# --- pydantic errors to findings -------------------------------------------------------------


def _data_path(loc: tuple[Any, ...], data: Any) -> Loc:
    """The path in the data of a pydantic error location, without the union tags pydantic
    inserts after a node (its kind, then its tool for tool nodes)."""
    path: list[str | int] = []
    current = data
    position = 0
    while position < len(loc):
        part = loc[position]
        position += 1
        path.append(part)
        if isinstance(current, Mapping | list):
            try:
                current = current[part]
            except (KeyError, IndexError, TypeError):
                current = None
        if (
            len(path) == 2
            and path[0] == "mcp_servers"
            and position < len(loc)
            and loc[position] in TRANSPORTS
        ):
            position += 1  # the transport's union tag
        if len(path) == 2 and path[0] == "nodes" and isinstance(part, int) and position < len(loc):
            position += 1
            if (
                isinstance(current, Mapping)
                and current.get("kind") == "tool"
                and position < len(loc)
            ):
                position += 1
    return tuple(path)


@cache
def _known_keys() -> tuple[str, ...]:

    keys: set[str] = set()

    def collect(schema: Any) -> None:
        if isinstance(schema, dict):
            keys.update(schema.get("properties", {}))
            for value in schema.values():
                collect(value)
        elif isinstance(schema, list):
            for value in schema:
                collect(value)

    collect(workflow_json_schema())
    return tuple(sorted(keys))


def _unknown_key_message(key: str, path: Loc) -> str:
    if _SECRET_KEY.match(key):
        return (
            f"unknown key '{key}': never write secrets in a config; keep the key in an "
            "environment variable and give its NAME as api_key_env"
        )
    if key in _NESTED_ONLY and "fields" in path:
        return (
            f"unknown key '{key}': the fields of an object are always present; "
            "`required` and `default` belong to top-level state fields"
        )
    if path[:1] == ("mcp_servers",) and len(path) == 3:
        return (
            f"unknown key '{key}' for this transport: stdio takes command, args, env and "
            "timeout; http takes url, secret_headers and timeout"
        )
    close = difflib.get_close_matches(key, _known_keys(), n=1)
    return f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else "")


def _finding(error: Any, data: Any) -> Finding:
    kind = error["type"]
    path = _data_path(tuple(error["loc"]), data)
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if path and path[-1] == "[key]":
        return Finding(path[:-1], f"invalid key: {message}", at_key=True)
    if kind == "extra_forbidden":
        return Finding(path, _unknown_key_message(str(path[-1]), path), at_key=True)
    if kind == "missing":
        return Finding(path, f"missing required key '{path[-1]}'")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(error["ctx"]["discriminator"]).strip("'")
        what, names = {
            "kind": ("node kind", NODE_KINDS),
            "transport": ("MCP transport", TRANSPORTS),
        }.get(discriminator, ("tool", TOOL_NODE_NAMES))
        choices = ", ".join(names)
        if kind == "union_tag_invalid":
            message = f"unknown {what} '{error['ctx']['tag']}': use one of {choices}"
        else:
            message = f"missing `{discriminator}`: one of {choices}"
        return Finding((*path, discriminator), message)
    if path == ("schema_version",) and kind == "literal_error":
        return Finding(
            path,
            f"unsupported schema_version {error['input']!r}: this version reads schema_version 1",
        )
    return Finding(path, message)


# --- salvage: the parts that are valid on their own ------------------------------------------


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _valid(kind: Any, value: Any) -> tuple[Any, bool]:
    try:
        return _adapter(kind).validate_python(value), True
    except ValidationError:
        return None, False


def _salvage(data: Mapping[str, Any]) -> Parts:
    parts = Parts(state=None, nodes=[], edges=[])
    raw_state = data.get("state", {})
    if isinstance(raw_state, Mapping):
        # Field by field: a broken field keeps the others checkable.
        parts.state = {}
        for name, item in raw_state.items():
            spec, ok = _valid(StateField, item)
            if ok and _valid(FieldName, name)[1]:
                parts.state[name] = spec
            else:
                parts.broken_fields.add(str(name))
    raw_nodes = data.get("nodes")
    if isinstance(raw_nodes, list):
        for index, item in enumerate(raw_nodes):
            ident = item.get("id") if isinstance(item, Mapping) else None
            if isinstance(ident, str):
                parts.ids.append((index, ident))
            node, ok = _valid(Node, item)
            if ok:
                parts.nodes.append((index, node))
                continue
            parts.nodes_complete = False
            if isinstance(ident, str):
                parts.broken_ids.add(ident)
            else:
                parts.unknown_broken = True
    else:
        # Without nodes every reference would be "unknown": check none of them.
        parts.nodes_complete = False
        parts.unknown_broken = True
    raw_edges = data.get("edges")
    parts.edges_complete = isinstance(raw_edges, list)
    for index, item in enumerate(raw_edges if isinstance(raw_edges, list) else []):
        edge, ok = _valid(Edge, item)
        if ok:
            parts.edges.append((index, edge))
        else:
            parts.edges_complete = False
    servers = data.get("mcp_servers", {})
    # A broken declaration is reported by the models: then references to it are not checked.
    parts.mcp_servers = (
        set(servers)
        if isinstance(servers, Mapping) and _valid(ServersFile, {"mcp_servers": servers})[1]
        else None
    )
    memory, parts.memory_ok = _valid(MemoryConfig | None, data.get("memory"))
    parts.memory = memory
    raw_schedules = data.get("schedules")
    for index, item in enumerate(raw_schedules if isinstance(raw_schedules, list) else []):
        schedule, ok = _valid(Schedule, item)
        if ok:
            parts.schedules.append((index, schedule))
    return parts
