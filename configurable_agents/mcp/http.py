"""The MCP server over streamable HTTP, as the dashboard mounts it at /mcp: the SDK's
session manager around the workflow tools of configurable_agents/mcp/server.py."""

from __future__ import annotations

from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.bootstrap import is_loopback
from configurable_agents.mcp.server import WorkflowTools, build_server
from configurable_agents.settings import Settings


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """On loopback, where nothing else guards /mcp, the SDK's DNS-rebinding protection checks
    the Host and Origin headers; off loopback the access token guards it and the Host is
    whatever name users reach the dashboard by."""
    if not is_loopback(settings.dashboard_host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )


def session_manager(
    settings: Settings, session_factory: sessionmaker[Session]
) -> tuple[StreamableHTTPSessionManager, Any]:
    """The session manager (run it for the app's lifetime) and the ASGI app answering /mcp."""
    tools = WorkflowTools(settings, session_factory)
    manager = StreamableHTTPSessionManager(
        app=build_server(tools), security_settings=transport_security(settings)
    )
    return manager, StreamableHTTPASGIApp(manager)
