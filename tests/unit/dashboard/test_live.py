"""The live stream: one read per tick for every browser, topics sent only when they change."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import event

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import steps
from dashboard.app import templates
from dashboard.live.snapshot import LiveSnapshot
from dashboard.live.tick import NodeOrderCache, StatusTick, Watchlist, gather_live
from dashboard.live.topics import TopicRenderer
from dashboard.live.watches import ResourceWatch, ServiceWatch
from tests.unit.dashboard.conftest import store_run, store_workflow


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of an SSE stream."""
    name, data = "", []
    for line in lines:
        if line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].removeprefix(" "))
        elif not line and name:
            yield name, "\n".join(data)
            name, data = "", []


def snapshot_of(settings: Settings, database: Database) -> LiveSnapshot:
    """A live snapshot as the dashboard takes one each tick (no service probed yet)."""
    return gather_live(
        settings,
        database.session_factory,
        Watchlist(),
        NodeOrderCache(),
        ServiceWatch(settings, 1.0),
    )


def count_statements(database: Database) -> list[str]:
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return statements


def test_the_reads_per_snapshot_do_not_grow_with_subscribers(
    dashboard_settings: Settings, dashboard_database: Database
) -> None:
    store_run(dashboard_database, store_workflow(dashboard_database), state="running")
    tick = StatusTick(lambda: snapshot_of(dashboard_settings, dashboard_database))
    statements = count_statements(dashboard_database)

    async def statements_per_refresh(subscribers: int) -> int:
        queues = [tick.subscribe() for _ in range(subscribers)]
        await tick.refresh()  # warm the node-order cache
        before = len(statements)
        await tick.refresh()
        for queue in queues:
            tick.unsubscribe(queue)
        return len(statements) - before

    alone = asyncio.run(statements_per_refresh(1))
    crowded = asyncio.run(statements_per_refresh(500))
    assert alone == crowded > 0


def test_a_topic_is_rendered_once_per_snapshot_for_every_subscriber(
    dashboard_settings: Settings, dashboard_database: Database
) -> None:
    snapshot = snapshot_of(dashboard_settings, dashboard_database)
    renderer = TopicRenderer(templates, dashboard_settings)
    payloads = {renderer.render(snapshot, "home") for _ in range(300)}
    assert len(payloads) == 1 and renderer.renders == 1


def test_nothing_is_published_until_something_changes(
    dashboard_settings: Settings, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    tick = StatusTick(lambda: snapshot_of(dashboard_settings, dashboard_database))

    async def scenario() -> tuple[bool, bool, bool]:
        await tick.refresh()
        queue = tick.subscribe()
        queue.get_nowait()  # the latest snapshot, given at once on subscribing
        await tick.refresh()
        quiet = queue.empty()
        store_run(dashboard_database, workflow_id, state="running")
        await tick.refresh()
        told = not queue.empty()
        snapshot = queue.get_nowait()
        return quiet, told, [run.state for run in snapshot.active] == ["running"]

    assert asyncio.run(scenario()) == (True, True, True)


def test_a_page_gets_only_its_topics(client: TestClient) -> None:
    with client.stream("GET", "/events/status?topics=home") as stream:
        name, data = next(sse_events(stream.iter_lines()))
    assert name == "home" and 'data-figure="workers"' in data
    assert client.get("/events/status?topics=everything").status_code == 400


def test_run_progress_updates_in_place_as_steps_finish(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database)
    run_id = store_run(dashboard_database, workflow_id, state="running")

    with client.stream("GET", f"/events/status?run={run_id}") as stream:
        events = sse_events(stream.iter_lines())
        name, first = next(events)
        while name != "run":
            name, first = next(events)
        assert 'class="seg state-running" data-node="summarize"' in first
        with session_scope(dashboard_database.session_factory) as session:
            steps.record(session, run_id, node="summarize", output={"summary": "done"})
        progress, trigger = "", ""
        for name, data in events:
            if name == "run":
                progress = data
            elif name == "run-steps":
                trigger = data  # the page reloads its step list when this changes
            if "state-completed" in progress and trigger == "running:1":
                break
    assert 'class="seg state-completed" data-node="summarize"' in progress


def test_the_tick_publishes_system_resources(
    dashboard_settings: Settings, dashboard_database: Database
) -> None:
    resources = ResourceWatch(dashboard_settings, dashboard_database.session_factory)
    services = ServiceWatch(dashboard_settings, 1.0)
    tick = StatusTick(
        lambda: gather_live(
            dashboard_settings,
            dashboard_database.session_factory,
            Watchlist(),
            NodeOrderCache(),
            services,
            resources,
        )
    )

    async def published() -> LiveSnapshot:
        queue = tick.subscribe()
        resources.read()
        await tick.refresh()
        return queue.get_nowait()

    snapshot = asyncio.run(published())
    assert snapshot.resources is resources.latest is not None
    assert [usage.name for usage in snapshot.resources.processes] == ["dashboard"]
    data = snapshot.as_dict()["resources"]
    assert data["disk_path"] and data["memory_total_bytes"] > 0
    home = TopicRenderer(templates, dashboard_settings).render(snapshot, "home") or ""
    assert 'data-resource="cpu"' in home and 'data-process="dashboard"' in home


def test_home_and_orchestrator_show_resources_live(client: TestClient) -> None:
    for path in ("/", "/orchestrator"):
        html = client.get(path).text
        assert 'data-panel="resources"' in html and 'data-resource="disk"' in html, path
    with client.stream("GET", "/events/status?topics=orchestrator") as stream:
        name, data = next(sse_events(stream.iter_lines()))
    assert name == "orchestrator" and 'data-resource="memory"' in data
