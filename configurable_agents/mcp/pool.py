"""Sessions with MCP servers, kept open and shared by the threads of one process.

The official SDK is asynchronous and a session must be entered and left by the same task;
runs execute in worker threads. So one background thread runs an event loop, and each
server gets one long-lived task there that holds its ``mcp.Client`` open; the threads call
through ``asyncio.run_coroutine_threadsafe``. A stdio server's process is started on first
use, reused by every later call (of any run of this process) and stopped by ``close()``
(the Engine closes its pool when the worker stops). A session whose server went away is
dropped, and the next call starts a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import logging
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import IO, Any

import anyio
import httpx2
import mcp_types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from configurable_agents.config.mcp import HttpServer, StdioServer
from configurable_agents.mcp.errors import (
    McpError,
    McpServerCrashedError,
    McpServerUnavailableError,
    McpTimeoutError,
    McpToolNotFoundError,
)

log = logging.getLogger(__name__)
ServerConfig = StdioServer | HttpServer
# Seconds to start a server and finish the MCP handshake.
CONNECT_SECONDS = 30.0
# Seconds close() waits for each server to stop (the SDK escalates to a kill within ~6 s).
STOP_SECONDS = 8.0
# The last characters of a stdio server's standard error quoted when it fails.
STDERR_TAIL = 600
# A session unused this long must answer (within PING_SECONDS) before it is used again.
PING_AFTER_SECONDS = 30.0
PING_SECONDS = 5.0
# Errors that mean the connection itself is gone (not one call's failure).
_GONE = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, EOFError)


@dataclass(frozen=True)
class McpTool:
    """One tool as a server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class McpResult:
    """What a tool call answered: its text content, structured content, and whether the
    tool reported an error."""

    text: str
    structured: Any
    is_error: bool

    @property
    def value(self) -> Any:
        """The structured content when there is some, else the text."""
        return self.structured if self.structured is not None else self.text


def _tool(tool: mcp_types.Tool) -> McpTool:
    return McpTool(
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema or {"type": "object"}),
        output_schema=dict(tool.output_schema) if tool.output_schema else None,
    )


def _result(result: mcp_types.CallToolResult) -> McpResult:
    texts = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            texts.append(block.text)
        else:
            # Images, audio, resources: named, not inlined (a step stores text).
            texts.append(f"[{block.type} content]")
    return McpResult("\n".join(texts), result.structured_content, bool(result.is_error))


def _needed(env: Mapping[str, str], variable: str, what: str, server: str) -> str:
    value = env.get(variable)
    if not value:
        raise McpServerUnavailableError(
            f"MCP server '{server}': environment variable {variable} ({what}) is not set"
        )
    return value


class _Session:
    """One open client session, held by its own task on the pool's loop."""

    def __init__(self, name: str, server: ServerConfig, env: Mapping[str, str]) -> None:
        self.name = name
        self.server = server
        self.env = env
        self.client: Client | None = None
        self.tools: dict[str, McpTool] | None = None
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.errlog: IO[str] | None = None
        self.failure: BaseException | None = None
        self.list_lock = asyncio.Lock()
        self.used = time.monotonic()

    def describe(self) -> str:
        """How messages name the server: its name and command line or URL."""
        server = self.server
        if isinstance(server, StdioServer):
            return f"MCP server '{self.name}' ({' '.join([server.command, *server.args])})"
        return f"MCP server '{self.name}' ({server.url})"

    def stderr_tail(self) -> str:
        """The end of a stdio server's standard error ("" for none)."""
        if self.errlog is None:
            return ""
        try:
            self.errlog.flush()
            self.errlog.seek(0, 2)
            size = self.errlog.tell()
            self.errlog.seek(max(0, size - STDERR_TAIL))
            lines = [line.strip() for line in self.errlog.read().splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        text = " | ".join(lines[-3:])
        return f"; its last output on stderr: {text}" if text else ""

    async def open(self) -> None:
        """Start the holder task and wait until the session is ready (or failed)."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._hold(ready), name=f"mcp:{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(ready), CONNECT_SECONDS)
        except TimeoutError:
            self.stop.set()
            message = (
                f"{self.describe()} did not finish the MCP handshake within "
                f"{CONNECT_SECONDS:g} s{self.stderr_tail()}"
            )
            self.close_log()
            raise McpServerUnavailableError(message) from None
        except BaseException:
            self.close_log()
            raise

    def close_log(self) -> None:
        """Close the file holding the server's stderr (once the session is over)."""
        if self.errlog is not None:
            self.errlog.close()

    async def _hold(self, ready: asyncio.Future[None]) -> None:
        try:
            async with AsyncExitStack() as stack:
                self.client = await stack.enter_async_context(
                    Client(await self._transport(stack), cache=None)
                )
                ready.set_result(None)
                await self.stop.wait()
        except BaseException as error:  # the holder must always settle `ready`
            self.failure = error
            if not ready.done():
                ready.set_exception(self._start_error(error))
            if isinstance(error, asyncio.CancelledError):
                raise
        finally:
            # The stderr file stays open: the failure may still quote it (closed by _drop).
            self.client = None

    async def _transport(self, stack: AsyncExitStack) -> Any:
        server = self.server
        if isinstance(server, StdioServer):
            env = {
                name: _needed(self.env, name, "listed under env", self.name) for name in server.env
            }
            # A real file: the child writes its stderr there; quoted when it fails.
            self.errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            parameters = StdioServerParameters(
                command=server.command, args=list(server.args), env=env
            )
            return stdio_client(parameters, errlog=self.errlog)
        headers = {
            header: _needed(self.env, variable, f"for header {header}", self.name)
            for header, variable in server.secret_headers.items()
        }
        http = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers=headers, timeout=httpx2.Timeout(30.0, read=max(server.timeout, 30.0))
            )
        )
        return streamable_http_client(server.url, http_client=http)

    def _start_error(self, error: BaseException) -> McpError:
        if isinstance(error, McpError):
            return error
        reason = _reason(error)
        return McpServerUnavailableError(
            f"cannot connect to {self.describe()}: {reason}{self.stderr_tail()}"
        )

    @property
    def alive(self) -> bool:
        """Whether the session is open and its server has not gone away."""
        return self.client is not None and self.failure is None and not self.stop.is_set()

    async def list_tools(self) -> dict[str, McpTool]:
        """The server's tools by name, listed once per session (all pages)."""
        async with self.list_lock:
            if self.tools is None:
                assert self.client is not None
                found: dict[str, McpTool] = {}
                cursor: str | None = None
                for _ in range(100):  # a server that pages forever cannot hang us
                    page = await self.client.list_tools(cursor=cursor)
                    found.update({tool.name: _tool(tool) for tool in page.tools})
                    cursor = page.next_cursor
                    if not cursor:
                        break
                self.tools = found
            return self.tools


def _reason(error: BaseException) -> str:
    """The innermost useful message of an error (task groups wrap them in groups)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _key(name: str, server: ServerConfig, env: Mapping[str, str]) -> str:
    names = server.env if isinstance(server, StdioServer) else server.secret_headers.values()
    # The values the server is started with are part of what makes it the same server.
    values = {variable: env.get(variable) for variable in names}
    return json.dumps([name, server.model_dump(mode="json"), values], sort_keys=True)


class McpPool:
    """Open sessions with MCP servers for one process; ``close()`` stops them all."""

    def __init__(self, *, ping_after: float = PING_AFTER_SECONDS) -> None:
        # A session idle this long is asked whether it answers before its next use: a server
        # that died while idle is started again instead of failing the call.
        self.ping_after = ping_after
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sessions: dict[str, _Session] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._lock = threading.Lock()
        self._closed = False

    # --- the loop thread -------------------------------------------------------------------

    def _loop_running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise McpServerUnavailableError("the MCP session pool is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="mcp-sessions", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _run(self, coroutine: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop_running())
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise McpTimeoutError(f"no answer within {timeout:g} s") from None

    # --- sessions --------------------------------------------------------------------------

    async def _session(self, name: str, server: ServerConfig, env: Mapping[str, str]) -> _Session:
        key = _key(name, server, env)
        lock = self._opening.setdefault(key, asyncio.Lock())
        async with lock:
            session = self._sessions.get(key)
            if session is not None and session.alive and await self._answers(session):
                session.used = time.monotonic()
                return session
            if session is not None:
                await self._drop(key, session)
            session = _Session(name, server, env)
            await session.open()
            self._sessions[key] = session
            return session

    async def _answers(self, session: _Session) -> bool:
        """Whether a session is usable: recently used, or it answers now. The question is a
        tools listing (ping is gone from the 2026 protocol), which also refreshes the tools."""
        if time.monotonic() - session.used < self.ping_after:
            return True
        session.tools = None
        try:
            await asyncio.wait_for(session.list_tools(), PING_SECONDS)
        except Exception as error:
            log.info("%s did not answer (%s): starting it again", session.describe(), error)
            return False
        return True

    async def _drop(self, key: str, session: _Session) -> None:
        if self._sessions.get(key) is session:
            del self._sessions[key]
        session.stop.set()
        if session.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(session.task), STOP_SECONDS)
        session.close_log()

    # --- what callers use ------------------------------------------------------------------

    def list_tools(
        self, name: str, server: ServerConfig, *, env: Mapping[str, str]
    ) -> list[McpTool]:
        """The tools the server offers (listed once per session)."""

        async def listing() -> list[McpTool]:
            session = await self._session(name, server, env)
            try:
                return list((await session.list_tools()).values())
            except Exception as error:
                raise await self._failed(session, error, "tools/list") from None

        return self._run(listing(), CONNECT_SECONDS + server.timeout)

    def call_tool(
        self,
        name: str,
        server: ServerConfig,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        env: Mapping[str, str],
        timeout: float | None = None,
    ) -> McpResult:
        """Call one tool; McpToolNotFoundError names the server's tools when it has no such one."""
        seconds = timeout or server.timeout

        async def calling() -> McpResult:
            session = await self._session(name, server, env)
            try:
                tools = await session.list_tools()
            except Exception as error:
                raise await self._failed(session, error, "tools/list") from None
            if tool not in tools:
                close = difflib.get_close_matches(tool, list(tools), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                offered = ", ".join(sorted(tools)) or "none"
                raise McpToolNotFoundError(
                    f"MCP server '{name}' has no tool '{tool}'{hint}; its tools: {offered}"
                )
            assert session.client is not None
            try:
                result = await session.client.call_tool(
                    tool, dict(arguments), read_timeout_seconds=seconds
                )
            except Exception as error:
                raise await self._failed(session, error, f"tool '{tool}'", seconds) from None
            return _result(result)

        return self._run(calling(), CONNECT_SECONDS + seconds + 5.0)

    async def _failed(
        self, session: _Session, error: Exception, what: str, seconds: float | None = None
    ) -> McpError:
        """The error to raise for a failed request; a session whose server is gone is dropped."""
        if isinstance(error, McpError):
            return error
        if isinstance(error, TimeoutError) or (
            isinstance(error, MCPError) and "timed out" in str(error).lower()
        ):
            return McpTimeoutError(
                f"{session.describe()}: {what} gave no answer within {seconds or 0:g} s"
            )
        gone = isinstance(error, _GONE) or (
            isinstance(error, MCPError) and error.code == mcp_types.CONNECTION_CLOSED
        )
        if gone or not session.alive:
            await asyncio.sleep(0.05)  # let the child's last stderr lines land
            tail = session.stderr_tail()
            await self._drop(_key(session.name, session.server, session.env), session)
            return McpServerCrashedError(
                f"{session.describe()} went away during {what} ({_reason(error)}){tail}"
            )
        return McpError(f"{session.describe()}: {what} failed: {_reason(error)}")

    def close(self) -> None:
        """Stop every server this pool started and the loop thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def stop_all() -> None:
            sessions = list(self._sessions.items())
            await asyncio.gather(*(self._drop(key, session) for key, session in sessions))

        try:
            asyncio.run_coroutine_threadsafe(stop_all(), loop).result(STOP_SECONDS + 2)
        except Exception as error:  # stopping must not raise into a worker's shutdown
            log.warning("stopping MCP servers: %s", _reason(error))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    def open_sessions(self) -> int:
        """How many server sessions are open (for tests and the status)."""
        return sum(1 for session in self._sessions.values() if session.alive)


# --- the process's pool ----------------------------------------------------------------------

_process_pool: McpPool | None = None
_process_lock = threading.Lock()


def process_pool() -> McpPool:
    """The pool every run of this process shares (made on first use)."""
    global _process_pool
    with _process_lock:
        if _process_pool is None:
            _process_pool = McpPool()
        return _process_pool


def close_process_pool() -> None:
    """Stop the servers of this process (the engine calls it when it stops)."""
    global _process_pool
    with _process_lock:
        pool, _process_pool = _process_pool, None
    if pool is not None:
        pool.close()
