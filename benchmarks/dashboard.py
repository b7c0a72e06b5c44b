"""Dashboard benchmark: the runs list at 100,000 runs, and the live stream at 1,000 browsers.

Run from the repo root:

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/dashboard.py

Writes benchmarks/results/dashboard.json and prints a summary with each goal met or missed.

Runs list: a fresh SQLite database with 100,000 runs, the real dashboard process on a free
port; the server time of each request is read from its ``Server-Timing`` header (the
dashboard adds it to every answer), over first pages, pages deep in the list (keyset
cursors), filters and the HTMX fragment. Goal: p95 under 50 ms.

Live stream: the same app started by this script's ``serve`` mode, which adds a statement
counter on the database engine and a /bench/stats route; 1,000 subscribers held on loopback
by raw asyncio sockets. Measured: snapshots and SQL statements per tick (with 0 and 1,000
subscribers), delivery time of the event after a state change (a run written to the
database) to every subscriber, and the server's added RSS. Goals: one snapshot per tick,
p95 delivery under one tick plus 100 ms, added RSS under 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# A script's folder comes first on sys.path: benchmarks/queue.py would shadow the standard
# library's queue module (thread pools import it on first use). The repo root replaces it.
REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]

import httpx  # noqa: E402
import psutil  # noqa: E402

from tests.conftest import free_port  # noqa: E402
from tests.e2e.serviceset import process_environment, settings_environment  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "dashboard.json"
GOALS = {
    "runs_list_p95_ms": 50.0,
    "snapshots_per_tick": 1.0,
    "delivery_p95_over_tick_ms": 100.0,
    "added_rss_bytes": 100e6,
}
READY_SECONDS = 60.0
STATES = ("completed", "completed", "completed", "failed", "cancelled", "queued")


# --- data ----------------------------------------------------------------------------------


def prepare_database(data_dir: Path, runs: int) -> dict[str, Any]:
    """Migrate, store three workflows and ``runs`` runs over 30 days; returns what was made."""
    from sqlalchemy import insert

    from configurable_agents.release import seed_examples
    from configurable_agents.settings import load_settings
    from configurable_agents.storage.database import (
        create_db_engine,
        make_session_factory,
        session_scope,
    )
    from configurable_agents.storage.migrations import upgrade_to_head
    from configurable_agents.storage.models import Run, Workflow, new_id

    settings = load_settings(data_dir=data_dir)
    engine = create_db_engine(settings.effective_database_url)
    upgrade_to_head(engine, data_dir)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        seed_examples(session)
    with session_scope(factory) as session:
        workflows = [(w.id, w.name, w.latest_version) for w in session.query(Workflow).limit(3)]
    random.seed(7)
    now = datetime.now(UTC)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for index in range(runs):
        workflow_id, name, _ = workflows[index % len(workflows)]
        created = now - timedelta(seconds=random.uniform(0, 30 * 86400))
        state = STATES[index % len(STATES)]
        batch.append(
            {
                "id": new_id(),
                "workflow_id": workflow_id,
                "workflow_name": name,
                "state": state,
                "inputs": {"text": f"input {index}"},
                "trigger": "api",
                "total_tokens": 120,
                "total_cost": 0.0002,
                "created_at": created,
                "started_at": created if state != "queued" else None,
                "finished_at": created + timedelta(seconds=2) if state != "queued" else None,
            }
        )
        if len(batch) == 5000:
            with session_scope(factory) as session:
                session.execute(insert(Run), batch)
            batch = []
    if batch:
        with session_scope(factory) as session:
            session.execute(insert(Run), batch)
    engine.dispose()
    return {
        "runs": runs,
        "workflow_ids": [w[0] for w in workflows],
        "insert_seconds": round(time.perf_counter() - started, 1),
    }


def cursors_at_depths(data_dir: Path, depths: list[int]) -> dict[int, str]:
    """The page cursor a user reaches after paging ``depth`` runs into the list."""
    from sqlalchemy import select

    from configurable_agents.settings import load_settings
    from configurable_agents.storage.database import create_db_engine, make_session_factory
    from configurable_agents.storage.models import Run
    from dashboard.queries import encode_cursor

    engine = create_db_engine(load_settings(data_dir=data_dir).effective_database_url)
    found = {}
    with make_session_factory(engine)() as session:
        for depth in depths:
            run = session.scalar(
                select(Run)
                .order_by(Run.created_at.desc(), Run.id.desc())
                .offset(depth - 1)
                .limit(1)
            )
            found[depth] = encode_cursor(run)
    engine.dispose()
    return found


# --- processes -----------------------------------------------------------------------------


def start_dashboard(env: dict[str, str], command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the dashboard exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the dashboard never became healthy:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": round(percentile(values, 0.50), 2),
        "p95": round(percentile(values, 0.95), 2),
        "max": round(max(values), 2) if values else float("nan"),
    }


# --- runs list -----------------------------------------------------------------------------


def bench_runs_list(runs: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        data_dir = Path(tmp) / "var"
        data_dir.mkdir()
        made = prepare_database(data_dir, runs)
        cursors = cursors_at_depths(data_dir, [50, runs // 10, runs // 2, runs - 100])
        settings_env = settings_environment(data_dir)
        env = process_environment(settings_env)
        url = f"http://127.0.0.1:{settings_env['DASHBOARD_PORT']}"
        log = Path(tmp) / "dashboard.log"
        process = start_dashboard(env, [sys.executable, "-m", "dashboard"], log)
        try:
            wait_healthy(url, process, log)
            workflow = made["workflow_ids"][0]
            since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
            requests = {
                "first page": ("/runs", {}),
                "first page, HTMX fragment": (
                    "/runs",
                    {"HX-Request": "true", "HX-Target": "runs-table"},
                ),
                **{
                    f"page at depth {depth:,}": (f"/runs?cursor={cursor}", {})
                    for depth, cursor in cursors.items()
                },
                "state=failed": ("/runs?state=failed", {}),
                "one workflow": (f"/runs?workflow={workflow}", {}),
                "last 7 days, one workflow, completed": (
                    f"/runs?workflow={workflow}&state=completed&since={since}",
                    {},
                ),
                "deep page, state=failed": (
                    f"/runs?state=failed&cursor={cursors[runs // 2]}",
                    {},
                ),
                "API first page": ("/api/v1/runs?limit=50", {}),
                "API deep page": (f"/api/v1/runs?limit=50&cursor={cursors[runs - 100]}", {}),
            }
            by_request: dict[str, list[float]] = {name: [] for name in requests}
            round_trips: list[float] = []
            with httpx.Client(base_url=url, timeout=30) as client:
                for _ in range(3):  # warm caches (SQLite pages, templates)
                    for path, headers in requests.values():
                        client.get(path, headers=headers)
                for _ in range(repeats):
                    for name, (path, headers) in requests.items():
                        started = time.perf_counter()
                        answer = client.get(path, headers=headers)
                        round_trips.append((time.perf_counter() - started) * 1000)
                        assert answer.status_code == 200, (
                            path,
                            answer.status_code,
                            answer.text[:300],
                        )
                        timing = answer.headers["server-timing"]
                        by_request[name].append(float(timing.split("dur=")[1]))
        finally:
            stop(process)
    every = [value for values in by_request.values() for value in values]
    return {
        "runs": runs,
        "insert_seconds": made["insert_seconds"],
        "server_ms": summary(every),
        "round_trip_ms": summary(round_trips),
        "by_request_server_ms": {name: summary(values) for name, values in by_request.items()},
    }


# --- live stream ---------------------------------------------------------------------------


def serve(port: int, tick: float) -> None:
    """The dashboard app plus a statement counter and /bench/stats, on 127.0.0.1:port."""
    import uvicorn
    from sqlalchemy import event

    from configurable_agents.bootstrap import open_database, start_process
    from dashboard.app import create_app

    settings = start_process("dashboard")
    database = open_database(settings, "dashboard")
    statements = [0]

    def count(*_: object) -> None:
        statements[0] += 1

    event.listen(database.engine, "before_cursor_execute", count)
    app = create_app(settings, database, tick_seconds=tick)

    @app.get("/bench/stats")
    async def stats() -> dict[str, Any]:
        tick = app.state.tick
        return {
            "snapshots": tick.reads,
            "statements": statements[0],
            "subscribers": tick.subscriber_count,
            "renders": app.state.topic_renderer.renders,
            "time": time.time(),
        }

    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=4096
    )


class Subscriber:
    """One browser's SSE connection on a raw socket; notes when each `home` event arrives."""

    MARKER = b"event: home\n"

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.connected = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer = writer
        writer.write(
            b"GET /events/status?topics=status,home HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Accept: text/event-stream\r\n\r\n"
        )
        await writer.drain()
        tail = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.time()
            data = tail + chunk
            count = data.count(self.MARKER)
            for _ in range(count):
                self.arrivals.append(now)
            if count:
                self.connected.set()
            tail = data[-len(self.MARKER) :]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def bench_stream_async(
    port: int, pid: int, subscribers: int, tick: float, changes: int, data_dir: Path
) -> dict[str, Any]:
    from configurable_agents.settings import load_settings
    from configurable_agents.storage.database import (
        create_db_engine,
        make_session_factory,
        session_scope,
    )
    from configurable_agents.storage.models import Run

    server = psutil.Process(pid)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

        async def stats() -> dict[str, Any]:
            return (await client.get("/bench/stats")).json()

        # Idle baseline: reads per tick with nobody listening, RSS before the crowd.
        await asyncio.sleep(3 * tick)
        idle_start = await stats()
        await asyncio.sleep(10 * tick)
        idle_end = await stats()
        rss_before = server.memory_info().rss

        crowd = [Subscriber() for _ in range(subscribers)]
        tasks = [asyncio.create_task(s.run(port)) for s in crowd]
        connect_started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in crowd)), timeout=120)
        connect_seconds = time.perf_counter() - connect_started
        await asyncio.sleep(3 * tick)
        rss_after = server.memory_info().rss
        connected = await stats()

        busy_start = await stats()
        await asyncio.sleep(10 * tick)
        busy_end = await stats()

        engine = create_db_engine(load_settings(data_dir=data_dir).effective_database_url)
        factory = make_session_factory(engine)
        delays: list[float] = []
        spreads: list[float] = []
        events_per_change: list[int] = []
        rng = random.Random(11)
        for number in range(changes):
            # A random phase against the tick, so the waits for the next snapshot vary.
            await asyncio.sleep(rng.uniform(0, tick))
            before = [len(s.arrivals) for s in crowd]
            changed_at = time.time()
            with session_scope(factory) as session:
                session.add(Run(workflow_name="bench", inputs={"n": number}, state="running"))
            await asyncio.sleep(tick + 1.5)
            firsts = []
            for subscriber, seen in zip(crowd, before, strict=True):
                fresh = subscriber.arrivals[seen:]
                events_per_change.append(len(fresh))
                if fresh:
                    delays.append((fresh[0] - changed_at) * 1000)
                    firsts.append(fresh[0])
            if firsts:
                spreads.append((max(firsts) - min(firsts)) * 1000)
        engine.dispose()
        rss_end = server.memory_info().rss
        for subscriber in crowd:
            subscriber.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def per_tick(start: dict[str, Any], end: dict[str, Any]) -> dict[str, float]:
        ticks = (end["time"] - start["time"]) / tick
        snapshots = end["snapshots"] - start["snapshots"]
        return {
            "ticks": round(ticks, 1),
            "snapshots_per_tick": round(snapshots / ticks, 2),
            "statements_per_snapshot": round(
                (end["statements"] - start["statements"]) / max(snapshots, 1), 1
            ),
        }

    missed = sum(1 for count in events_per_change if count == 0)
    return {
        "subscribers": subscribers,
        "subscribers_seen_by_server": connected["subscribers"],
        "tick_seconds": tick,
        "connect_all_seconds": round(connect_seconds, 2),
        "idle": per_tick(idle_start, idle_end),
        "with_subscribers": per_tick(busy_start, busy_end),
        "renders_per_snapshot_with_subscribers": round(
            (busy_end["renders"] - busy_start["renders"])
            / max(busy_end["snapshots"] - busy_start["snapshots"], 1),
            2,
        ),
        "changes": changes,
        "delivery_ms": summary(delays),
        # First to last subscriber of one change: the cost of fanning out to all of them.
        "fan_out_spread_ms": summary(spreads),
        "deliveries_missed": missed,
        "home_events_per_subscriber_per_change": round(statistics.fmean(events_per_change), 2),
        "rss_before_bytes": rss_before,
        "rss_with_subscribers_bytes": rss_after,
        "rss_at_end_bytes": rss_end,
        "added_rss_bytes": rss_after - rss_before,
    }


def bench_stream(subscribers: int, tick: float, changes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp:
        data_dir = Path(tmp) / "var"
        data_dir.mkdir()
        prepare_database(data_dir, 1000)
        port = free_port()
        env = process_environment(settings_environment(data_dir, DASHBOARD_PORT=str(port)))
        log = Path(tmp) / "serve.log"
        command = [sys.executable, __file__, "serve", "--port", str(port), "--tick", str(tick)]
        process = start_dashboard(env, command, log)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process, log)
            # uvloop, as the server uses: the client's own overhead weighs on the timings
            # (both share this machine's cores).
            import uvloop

            return uvloop.run(
                bench_stream_async(port, process.pid, subscribers, tick, changes, data_dir)
            )
        finally:
            stop(process)


# --- main ----------------------------------------------------------------------------------


def goals_met(result: dict[str, Any]) -> dict[str, bool]:
    stream = result["stream"]
    return {
        "runs_list_p95_ms": result["runs_list"]["server_ms"]["p95"] < GOALS["runs_list_p95_ms"],
        "snapshots_per_tick": stream["with_subscribers"]["snapshots_per_tick"]
        <= GOALS["snapshots_per_tick"] + 0.05,
        "statements_independent_of_subscribers": stream["with_subscribers"][
            "statements_per_snapshot"
        ]
        <= stream["idle"]["statements_per_snapshot"] + 0.5,
        "delivery_p95_under_tick_plus_100ms": stream["delivery_ms"]["p95"]
        < stream["tick_seconds"] * 1000 + GOALS["delivery_p95_over_tick_ms"]
        and stream["deliveries_missed"] == 0,
        "added_rss_under_100MB": stream["added_rss_bytes"] < GOALS["added_rss_bytes"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    serve_parser = sub.add_parser("serve", help="(internal) the instrumented dashboard")
    serve_parser.add_argument("--port", type=int, required=True)
    serve_parser.add_argument("--tick", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument(
        "--repeats", type=int, default=20, help="rounds over the runs-list requests"
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--tick", type=float, default=1.0, help="STATUS_TICK_SECONDS of the stream")
    parser.add_argument("--changes", type=int, default=10, help="state changes to time")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve(args.port, args.tick)
        return 0

    started = time.perf_counter()
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "goals": GOALS,
    }
    print(f"runs list: {args.runs:,} runs ...", flush=True)
    result["runs_list"] = bench_runs_list(args.runs, args.repeats)
    print(f"live stream: {args.subscribers} subscribers ...", flush=True)
    result["stream"] = bench_stream(args.subscribers, args.tick, args.changes)
    result["met"] = goals_met(result)
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    result["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))

    runs_list, stream = result["runs_list"], result["stream"]
    print(
        json.dumps(
            {
                "runs_list_server_ms": runs_list["server_ms"],
                **{
                    "snapshots_per_tick": stream["with_subscribers"]["snapshots_per_tick"],
                    "statements_per_snapshot_idle": stream["idle"]["statements_per_snapshot"],
                    "statements_per_snapshot_1000": stream["with_subscribers"][
                        "statements_per_snapshot"
                    ],
                    "delivery_ms": stream["delivery_ms"],
                    "added_rss_MB": round(stream["added_rss_bytes"] / 1e6, 1),
                },
            },
            indent=2,
        )
    )
    for goal, met in result["met"].items():
        print(f"{'met   ' if met else 'MISSED'} {goal}")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0 if all(result["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
