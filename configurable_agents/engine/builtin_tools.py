"""The built-in tools as a model calls them: each one's argument schema and a function over
the arguments the model gave, running the same code as the tool nodes (engine/tools.py).

Arguments come from the model, not from the config: nothing here is a template, paths
still stay inside the workspace and URLs are http(s) only.
"""

from __future__ import annotations

import json
from typing import Any

from configurable_agents.engine import tools
from configurable_agents.engine.toolspec import ToolCallContext, ToolError, ToolSpec

HTTP_TIMEOUT = 10.0
MAX_BYTES = 1_000_000

_STRING = {"type": "string"}


def _http_request(arguments: dict[str, Any], call: ToolCallContext) -> Any:
    method = arguments.get("method", "GET")
    url = arguments["url"]
    text = tools.send_request(
        method, url, arguments.get("headers") or {}, arguments.get("body"), HTTP_TIMEOUT, MAX_BYTES
    )
    return text


def _calculator(arguments: dict[str, Any], call: ToolCallContext) -> Any:
    return tools.calculate(arguments["expression"], {})


def _current_time(arguments: dict[str, Any], call: ToolCallContext) -> Any:
    return tools.time_now(arguments.get("timezone") or "UTC", arguments.get("format"))


def _file_read(arguments: dict[str, Any], call: ToolCallContext) -> Any:
    return tools.read_workspace_file(call.run.workspace, arguments["path"], MAX_BYTES)


def _file_write(arguments: dict[str, Any], call: ToolCallContext) -> Any:
    mode = arguments.get("mode", "overwrite")
    size = tools.write_workspace_file(
        call.run.workspace, arguments["path"], arguments["content"], mode
    )
    return {"path": arguments["path"], "bytes": size, "mode": mode}


def _json_path(arguments: dict[str, Any], call: ToolCallContext) -> Any:
    data = arguments["data"]
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise ToolError(f"json_path: data is not JSON ({error})") from None
    return tools.extract_path(data, arguments["path"])


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


BUILTIN_TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "http_request",
            "Fetch an http(s) URL and return the text of the answer "
            f"(at most {MAX_BYTES // 1000} kB, {HTTP_TIMEOUT:g} s).",
            _object(
                {
                    "url": {**_STRING, "description": "http:// or https:// URL"},
                    "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
                    "headers": {"type": "object", "additionalProperties": _STRING},
                    "body": _STRING,
                },
                ["url"],
            ),
            _http_request,
        ),
        ToolSpec(
            "calculator",
            "Evaluate an arithmetic expression, e.g. round(12.5 * 3 / 7, 2).",
            _object({"expression": _STRING}, ["expression"]),
            _calculator,
        ),
        ToolSpec(
            "current_time",
            "The current date and time (ISO 8601 unless a strftime format is given).",
            _object(
                {
                    "timezone": {**_STRING, "description": "IANA name, e.g. Europe/Paris"},
                    "format": _STRING,
                },
                [],
            ),
            _current_time,
        ),
        ToolSpec(
            "file_read",
            "Read a text file inside the workspace folder (a relative path).",
            _object({"path": _STRING}, ["path"]),
            _file_read,
        ),
        ToolSpec(
            "file_write",
            "Write (or append to) a text file inside the workspace folder (a relative path).",
            _object(
                {"path": _STRING, "content": _STRING, "mode": {"enum": ["overwrite", "append"]}},
                ["path", "content"],
            ),
            _file_write,
        ),
        ToolSpec(
            "json_path",
            "Extract a value from JSON data (a JSON text or value) with a path like $.items[0].id.",
            _object({"data": {}, "path": _STRING}, ["data", "path"]),
            _json_path,
        ),
    )
}
