"""Serving a web process of the set (dashboard, chat) with uvicorn, the same way for both.

The socket is bound before anything slow happens, so a taken port is one clear line;
`--reload` (Procfile.dev) serves an app factory that uvicorn re-imports on changes.

A process may answer /healthz while its app is still being built (`health_first`): the
answer only says "process up, database reachable, schema at head", which is known as soon
as the database is open, while importing and building the app is the slow part of the
start. Every other request waits for the app; the ready line still comes from the app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse

from configurable_agents import access
from configurable_agents.bootstrap import Database, bind_socket, open_database, start_process
from configurable_agents.settings import Settings
from configurable_agents.status.health import health_report

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HEALTH_PATH = "/healthz"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebProcess:
    """How one web process is named, configured and built."""

    name: str
    host_setting: str
    port_setting: str
    # "module:function" of a zero-argument factory, for uvicorn's reloader.
    factory_path: str
    reload_dirs: tuple[str, ...]
    build: Callable[[Settings, Database], Any]
    # Extra start-up rule (e.g. the dashboard's access-token rule); raises SystemExit.
    check: Callable[[Settings], None] = lambda settings: None
    # Answer /healthz while the app is built (see the module docstring).
    health_first: bool = False

    def address(self, settings: Settings) -> tuple[str, int]:
        return getattr(settings, self.host_setting.lower()), getattr(
            settings, self.port_setting.lower()
        )

    def create_app_from_environment(self) -> Any:
        """Settings, checks and database, then the app (the reloader's factory calls this)."""
        settings = start_process(self.name)
        self.check(settings)
        return self.build(settings, open_database(settings, self.name))


class _Lifespan:
    """Drives an ASGI app's lifespan (startup, shutdown) from inside another app's."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        # The server's own lifespan state: what the app stores there reaches each request.
        scope["state"] = state
        self._task = asyncio.create_task(app(scope, self._to_app.get, self._from_app.put))

    async def _step(self, message: str) -> None:
        await self._to_app.put({"type": f"lifespan.{message}"})
        reply = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({reply, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            self._task.result()  # the app's own error, if it raised
            return  # an app without lifespan support just returns
        if reply.result()["type"] == f"lifespan.{message}.failed":
            raise RuntimeError(reply.result().get("message") or f"lifespan {message} failed")

    async def startup(self) -> None:
        await self._step("startup")

    async def shutdown(self) -> None:
        if not self._task.done():
            await self._step("shutdown")


class HealthFirstApp:
    """Answers /healthz at once and everything else once the real app is built and started.

    The app is built in a thread after the server has started; its failure stops the
    process with exit code 1 (or the code of the SystemExit a start-up check raised).
    """

    def __init__(
        self,
        process: str,
        database: Database,
        build: Callable[[], ASGIApp],
        *,
        token: str = "",
    ) -> None:
        self.process = process
        self.database = database
        self.build = build
        # DASHBOARD_ACCESS_TOKEN: who holds it gets the detailed health report.
        self.token = token
        self.app: ASGIApp | None = None
        self.exit_code = 0
        # Set by serve(): asks the server to stop after a failed build.
        self.stop_server: Callable[[], None] = lambda: None
        self._settled = asyncio.Event()
        self._lifespan: _Lifespan | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._serve_lifespan(scope, receive, send)
            return
        if self.app is None and scope["type"] == "http" and scope["path"] == HEALTH_PATH:
            await self._answer_health(scope, receive, send)
            return
        await self._settled.wait()
        if self.app is None:
            await PlainTextResponse("stopping", status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _answer_health(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The same report, from the same function, as the app's own /healthz route."""
        request = Request(scope)
        detailed = access.is_authorised(self.token, request.headers, request.cookies)
        report, healthy = await asyncio.to_thread(
            health_report, self.process, self.database.engine, detailed=detailed
        )
        response = JSONResponse(report, status_code=200 if healthy else 503)
        await response(scope, receive, send)

    async def _serve_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        starting = asyncio.create_task(self._start(scope.setdefault("state", {})))
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        if not starting.done():
            # Still importing: nothing was started that needs stopping.
            starting.cancel()
        elif self._lifespan is not None:
            with contextlib.suppress(Exception):
                await self._lifespan.shutdown()
        await send({"type": "lifespan.shutdown.complete"})

    async def _start(self, state: dict[str, Any]) -> None:
        try:
            app = await _in_daemon_thread(self.build)
            self._lifespan = _Lifespan(app, state)
            await self._lifespan.startup()
        except StartupExit as error:  # a start-up check printed its one line already
            self._fail(error.code)
        except Exception:
            log.exception("%s: the app failed to start", self.process)
            self._fail(1)
        else:
            self.app = app
            self._settled.set()

    def _fail(self, code: int) -> None:
        self.exit_code = code or 1
        self._settled.set()
        self.stop_server()


class StartupExit(Exception):
    """A SystemExit raised while building the app, carried out of its thread."""

    def __init__(self, code: object) -> None:
        super().__init__(code)
        self.code = code if isinstance(code, int) else 1


async def _in_daemon_thread(function: Callable[[], Any]) -> Any:
    """Run function in a daemon thread, so Ctrl+C during a long import exits at once
    (asyncio.to_thread's pool threads are joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled: the server is stopping
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def run() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = function()
        except SystemExit as exit_:
            error = StartupExit(exit_.code)
        except Exception as failure:
            error = failure
        # The loop is closed when the server stopped while this was still running.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="build-app", daemon=True).start()
    return await future


def serve(process: WebProcess, argv: list[str] | None = None) -> int:
    """Entry point of `python -m <process>`."""
    parser = argparse.ArgumentParser(prog=f"python -m {process.name}")
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    args = parser.parse_args(argv)
    settings = start_process(process.name)
    process.check(settings)
    host, port = process.address(settings)

    import uvicorn

    log_level = settings.log_level.value.lower()
    if args.reload:
        bind_socket(process.name, host, port, process.port_setting).close()
        uvicorn.run(
            process.factory_path,
            factory=True,
            host=host,
            port=port,
            reload=True,
            reload_dirs=[*process.reload_dirs, "configurable_agents"],
            log_level=log_level,
        )
        return 0
    sock = bind_socket(process.name, host, port, process.port_setting)
    database = open_database(settings, process.name)
    app: Any
    if process.health_first:
        app = HealthFirstApp(
            process.name,
            database,
            lambda: process.build(settings, database),
            token=settings.dashboard_access_token,
        )
    else:
        app = process.build(settings, database)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    if isinstance(app, HealthFirstApp):
        app.stop_server = lambda: setattr(server, "should_exit", True)
    server.run(sockets=[sock])
    if isinstance(app, HealthFirstApp) and app.exit_code:
        return app.exit_code
    return 0 if server.started else 1
