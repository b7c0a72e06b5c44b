"""Small pure-ASGI middleware pieces: they add a response header without buffering bodies
(the live stream must flow), which Starlette's BaseHTTPMiddleware would get in the way of."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HeaderValue = Callable[[], bytes | None]


class ResponseHeaderMiddleware:
    """Adds one header to every HTTP response; subclasses say which, per request."""

    header = b""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def start(self, scope: Scope) -> HeaderValue:
        """Called when the request arrives; returns what gives the header's value (or None)."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value_of = self.start(scope)
        await self.app(scope, receive, with_header(send, self.header, value_of))


def with_header(
    send: Send, name: bytes, value_of: HeaderValue
) -> Callable[[Message], Awaitable[None]]:
    """``send`` that adds the header to the response start when ``value_of()`` gives one."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            value = value_of()
            if value is not None:
                message = {**message, "headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return sending


class ServerTimingMiddleware(ResponseHeaderMiddleware):
    """``Server-Timing: app;dur=<ms>``: time until the response headers, on every answer
    (the benchmark reads it; browsers show it in their network panel)."""

    header = b"server-timing"

    def start(self, scope: Scope) -> HeaderValue:
        started = time.perf_counter()
        return lambda: f"app;dur={(time.perf_counter() - started) * 1000:.2f}".encode()
