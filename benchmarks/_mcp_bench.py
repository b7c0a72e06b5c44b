"""What the platform adds to one MCP tool call, over stdio and over streamable HTTP.

The same no-op tool of the same real MCP server (tests/fakes/mcp_server.py, written with the
official SDK) is called N times, in interleaved rounds:

- raw: the SDK's own ``Client``, one open session, calling ``call_tool("noop")`` in a row
  inside its event loop (what any program calling the server pays);
- pool: ``McpPool.call_tool`` from a plain thread, as a worker thread calls it (the pool's
  background loop, the crossing between threads, the result conversion);
- node: a fixed ``tool: mcp`` node's whole call (``run_mcp_node``: rendering the arguments,
  finding the server, the pool, choosing the output value), without the engine's step
  storage, which every node kind pays alike (benchmarks/engine.py measures it).

``added_ms`` = node median - raw median per call (and ``added_best_ms`` between the quickest
rounds, steadier on busy cores); the goal is under 5 ms.

    python benchmarks/_mcp_bench.py [--calls 200] [--rounds 5]

benchmarks/agents.py calls ``measure_mcp``; run alone this writes results/agents_mcp.json.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The repo root replaces this folder on sys.path: benchmarks/queue.py would shadow the
# standard library's queue module.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import httpx2  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from configurable_agents.config.loader import load_config  # noqa: E402
from configurable_agents.config.mcp import HttpServer, StdioServer  # noqa: E402
from configurable_agents.engine.context import ProviderCache, RunContext  # noqa: E402
from configurable_agents.mcp.node import run_mcp_node  # noqa: E402
from configurable_agents.mcp.pool import McpPool, close_process_pool  # noqa: E402
from configurable_agents.settings import load_settings  # noqa: E402
from tests.fakes.mcp_fixtures import (  # noqa: E402
    running_http_server,
    stdio_declaration,
)

GOAL_MS = 5.0


def _per_call_ms(seconds: float, calls: int) -> float:
    return seconds * 1000 / calls


class RawClient:
    """The SDK's client on an event loop of its own, one session for every round (as the pool
    keeps one); a round is timed inside the loop, so no thread crossing is counted."""

    def __init__(self, target: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stop = asyncio.Event()
        self.ready: concurrent.futures.Future[Client] = concurrent.futures.Future()
        self.held = asyncio.run_coroutine_threadsafe(self._hold(target), self.loop)
        self.client = self.ready.result(60)

    async def _hold(self, target: Any) -> None:
        async with (
            contextlib.AsyncExitStack() as stack,
            Client(await target(stack), cache=None) as client,
        ):  # as the pool opens it
            await client.list_tools()
            await client.call_tool("noop", {})
            self.ready.set_result(client)
            await self.stop.wait()

    async def _round(self, calls: int) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await self.client.call_tool("noop", {})
        return _per_call_ms(time.perf_counter() - started, calls)

    def round(self, calls: int) -> float:
        return asyncio.run_coroutine_threadsafe(self._round(calls), self.loop).result(600)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.held.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _pool_round(pool: McpPool, server: Any, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        pool.call_tool("bench", server, "noop", {}, env=os.environ)
    return _per_call_ms(time.perf_counter() - started, calls)


def _node_context(server: dict[str, Any]) -> tuple[Any, RunContext]:
    text = json.dumps(
        {
            "schema_version": 1,
            "name": "bench-mcp",
            "state": {"label": {"type": "str", "default": "x"}, "out": {"type": "str"}},
            "mcp_servers": {"bench": server},
            "nodes": [
                {
                    "id": "call",
                    "kind": "tool",
                    "tool": "mcp",
                    "server": "bench",
                    "name": "noop",
                    "args": {},
                    "output": "out",
                }
            ],
            "edges": [{"from": "START", "to": "call"}, {"from": "call", "to": "END"}],
        }
    )
    config = load_config(text)
    settings = load_settings(tracking_enabled=False)
    ctx = RunContext(
        run_id="bench",
        workflow_name="bench-mcp",
        config=config,
        settings=settings,
        session_factory=None,  # type: ignore[arg-type]  # the MCP call touches no database
        providers=ProviderCache(settings),
        workspace=Path("."),
    )
    return config.nodes[0], ctx


def _node_round(node: Any, ctx: RunContext, calls: int) -> float:
    state = {"label": "x", "out": None}
    started = time.perf_counter()
    for _ in range(calls):
        run_mcp_node(node, state, ctx)
    return _per_call_ms(time.perf_counter() - started, calls)


def _measure(
    name: str, declaration: dict[str, Any], raw_target: Any, calls: int, rounds: int
) -> dict[str, Any]:
    server = (StdioServer if declaration["transport"] == "stdio" else HttpServer).model_validate(
        declaration
    )
    pool = McpPool()
    node, ctx = _node_context(declaration)
    raw: list[float] = []
    pooled: list[float] = []
    noded: list[float] = []
    direct = RawClient(raw_target)
    try:
        pool.call_tool("bench", server, "noop", {}, env=os.environ)  # start and warm up
        run_mcp_node(node, {"label": "x"}, ctx)
        for _ in range(rounds):  # interleaved: load on the machine weighs on all three alike
            raw.append(direct.round(calls))
            pooled.append(_pool_round(pool, server, calls))
            noded.append(_node_round(node, ctx, calls))
    finally:
        direct.close()
        pool.close()
        close_process_pool()
    raw_ms, pool_ms, node_ms = (statistics.median(values) for values in (raw, pooled, noded))
    added = node_ms - raw_ms
    # The quickest round of each side: what it costs when other programs leave the cores
    # alone (two shared cores make medians move by milliseconds).
    added_best = min(noded) - min(raw)
    return {
        "transport": name,
        "calls_per_round": calls,
        "rounds": rounds,
        "raw_ms": round(raw_ms, 3),
        "pool_ms": round(pool_ms, 3),
        "node_ms": round(node_ms, 3),
        "pool_added_ms": round(pool_ms - raw_ms, 3),
        "added_ms": round(added, 3),
        "raw_best_ms": round(min(raw), 3),
        "node_best_ms": round(min(noded), 3),
        "added_best_ms": round(added_best, 3),
        "ratio_node_to_raw": round(node_ms / raw_ms, 3),
        "goal_ms": GOAL_MS,
        "goal_met": added < GOAL_MS,
        "rounds_ms": {"raw": raw, "pool": pooled, "node": noded},
    }


def measure_mcp(calls: int = 200, rounds: int = 5) -> dict[str, Any]:
    """Per-call figures over stdio and HTTP (see the module docstring)."""
    stdio = stdio_declaration()
    stdio_params = StdioServerParameters(command=str(stdio["command"]), args=list(stdio["args"]))  # type: ignore[arg-type]

    async def stdio_target(stack: contextlib.AsyncExitStack) -> Any:
        return stdio_params

    results = {"stdio": _measure("stdio", stdio, stdio_target, calls, rounds)}
    with running_http_server() as url:

        async def http_target(stack: contextlib.AsyncExitStack) -> Any:
            http = await stack.enter_async_context(httpx2.AsyncClient())
            return streamable_http_client(url, http_client=http)

        results["http"] = _measure(
            "http", {"transport": "http", "url": url}, http_target, calls, rounds
        )
    results["load_average"] = list(os.getloadavg())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = measure_mcp(args.calls, args.rounds)
    out = ROOT / "benchmarks" / "results" / "agents_mcp.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for name in ("stdio", "http"):
        figures = results[name]
        verdict = "met" if figures["goal_met"] else "MISSED"
        print(
            f"{name}: raw {figures['raw_ms']} ms, pool {figures['pool_ms']} ms, node "
            f"{figures['node_ms']} ms per call (medians); added {figures['added_ms']} ms, "
            f"{figures['added_best_ms']} ms between the quickest rounds "
            f"(goal < {GOAL_MS} ms: {verdict})"
        )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
