"""Settings: the effective configuration, health of every service, versions; secrets
never appear, in the page or in its JSON twin.

Redacted: the access token (and any setting named like a token, secret or password),
passwords inside URLs, and the *value* of every environment variable a ``*_ENV`` setting
names, such as LLM_API_KEY_ENV (only its name and whether it is set are shown).
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from configurable_agents.settings import SECRET_FIELDS, Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import ApiKeyNameTakenError, InvalidValueError
from configurable_agents.storage.repositories import api_keys
from dashboard.deps import latest_snapshot, session_factory_of, settings_of
from dashboard.live.snapshot import LiveSnapshot
from dashboard.live.stream import stream_stats
from dashboard.render import page, redirect
from dashboard.routes.auth import keys_required

router = APIRouter()

_SECRET_NAME = re.compile(r"(token|secret|password|passwd)", re.IGNORECASE)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@"
)
REDACTED = "•••••• (set)"
PACKAGES = (
    "configurable-agents",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "langgraph",
    "huey",
    "mlflow",
    "gradio",
    "httpx",
)


@dataclass(frozen=True)
class SettingLine:
    """One setting as shown: its environment name, shown value, and whether it was redacted."""

    env: str
    value: str
    redacted: bool
    default: bool


def redact_url_password(text: str) -> str:
    """``scheme://user:secret@host`` becomes ``scheme://user:***@host``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def effective_settings(settings: Settings) -> list[SettingLine]:
    """Every setting with its effective value, secrets redacted."""
    defaults = Settings.model_construct()
    lines = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        shown = str(value.value if hasattr(value, "value") else value)
        redacted = False
        if name.endswith("_env"):
            # The NAME of a variable holding a secret: show it and whether it is set.
            if shown:
                shown += " (set in the environment)" if os.environ.get(shown) else " (not set)"
        elif name in SECRET_FIELDS or _SECRET_NAME.search(name):
            redacted = bool(shown)
            shown = REDACTED if shown else "(not set)"
        else:
            cleaned = redact_url_password(shown)
            redacted = cleaned != shown
            shown = cleaned
        lines.append(
            SettingLine(name.upper(), shown, redacted, value == getattr(defaults, name, None))
        )
    for label, value in (
        ("effective database URL", settings.effective_database_url),
        ("effective queue URL", settings.effective_queue_url),
        ("effective MLflow tracking URI", settings.effective_mlflow_tracking_uri),
    ):
        cleaned = redact_url_password(value)
        lines.append(SettingLine(label, cleaned, cleaned != value, False))
    return lines


def api_key_status(settings: Settings) -> str:
    """Whether the variable LLM_API_KEY_ENV names is set; never its value."""
    name = settings.llm_api_key_env
    if not name:
        return "no API key variable configured (LLM_API_KEY_ENV is empty)"
    return f"{name} is {'set' if os.environ.get(name) else 'NOT set'} in the environment"


def versions() -> list[tuple[str, str]]:
    """Python and the key packages, from installed metadata (nothing is imported)."""
    found = [("python", platform.python_version())]
    for package in PACKAGES:
        try:
            found.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            found.append((package, "not installed"))
    found.append(("htmx (vendored)", "2.0.11, sse extension 2.2.4"))
    return found


def settings_context(
    settings: Settings, snapshot: LiveSnapshot, stream: dict[str, Any]
) -> dict[str, Any]:
    """What the Settings page shows: settings redacted, the API key's state, versions,
    the latest status and the live stream's counters."""
    return {
        "lines": effective_settings(settings),
        "api_key": api_key_status(settings),
        "versions": versions(),
        "snapshot": snapshot,
        "stream": stream,
    }


def key_lines(session_factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """The live API keys as the page lists them: name, prefix, created and last used."""
    with session_factory() as session:
        return [
            {
                "name": key.name,
                "prefix": key.prefix,
                "created_at": key.created_at,
                "last_used_at": key.last_used_at,
            }
            for key in api_keys.list_keys(session)
        ]


async def context_of(request: Request) -> dict[str, Any]:
    """The page's context for this request."""
    context = settings_context(
        settings_of(request), await latest_snapshot(request), stream_stats(request)
    )
    context["keys"] = await run_in_threadpool(key_lines, session_factory_of(request))
    context["keys_required"] = keys_required(settings_of(request))
    return context


@router.get("/settings", response_class=HTMLResponse, include_in_schema=False)
async def settings_page(request: Request) -> HTMLResponse:
    return page(request, "settings.html", await context_of(request))


@router.post("/settings/keys", response_class=HTMLResponse, include_in_schema=False)
async def create_key(
    request: Request, name: Annotated[str, Form(max_length=200)] = ""
) -> HTMLResponse:
    """Create an API key and show it, this once, on the page."""

    def create() -> str:
        with session_scope(session_factory_of(request)) as session:
            return api_keys.create(session, name)[1]

    try:
        key, error, status = await run_in_threadpool(create), "", 201
    except (InvalidValueError, ApiKeyNameTakenError) as problem:
        key, error, status = (
            "",
            str(problem),
            422 if isinstance(problem, InvalidValueError) else 409,
        )
    context = await context_of(request)
    context.update(new_key=key, new_key_name=name.strip(), key_error=error)
    return page(request, "settings.html", context, status_code=status)


@router.post("/settings/keys/{name}/revoke", response_class=HTMLResponse, include_in_schema=False)
async def revoke_key(request: Request, name: str) -> Response:
    """Revoke an API key: programs using it are refused from now on."""

    def revoke() -> None:
        with session_scope(session_factory_of(request)) as session:
            api_keys.revoke(session, name)

    await run_in_threadpool(revoke)
    return redirect(request, "/settings#api-keys")


@router.get("/api/v1/settings", tags=["dashboard"])
async def api_settings(request: Request) -> dict[str, Any]:
    """The effective settings (secrets redacted), versions and the live stream's counters."""
    context = await context_of(request)
    return {
        "settings": [asdict(line) for line in context["lines"]],
        "api_key": context["api_key"],
        "versions": dict(context["versions"]),
        "services": [service.as_dict() for service in context["snapshot"].services],
        "api_keys": context["keys"],
        "stream": context["stream"],
    }
