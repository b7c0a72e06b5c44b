"""A health-first web process answers /healthz while its app is built, and waits for the rest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from configurable_agents.bootstrap import Database
from configurable_agents.storage.database import create_db_engine
from configurable_agents.storage.migrations import upgrade_to_head
from configurable_agents.web_process import HealthFirstApp


@pytest.fixture
def database(sqlite_url: str, data_dir: Path) -> Iterator[Database]:
    engine = create_db_engine(sqlite_url)
    upgrade_to_head(engine, data_dir)
    yield Database(engine=engine, session_factory=sessionmaker(engine))
    engine.dispose()


class Lifespan:
    """The server's side of the lifespan protocol."""

    def __init__(self, app: HealthFirstApp) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task = asyncio.create_task(
            app({"type": "lifespan", "state": {}}, self.to_app.get, self.from_app.put)
        )

    async def send(self, message: str) -> str:
        await self.to_app.put({"type": f"lifespan.{message}"})
        return (await asyncio.wait_for(self.from_app.get(), 5))["type"]


async def get(app: HealthFirstApp, path: str) -> tuple[int, bytes]:
    """One GET through the ASGI interface: status and body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def slow_app(release: threading.Event, events: list[str]) -> FastAPI:
    """An app whose build waits for `release`, with a lifespan that records itself."""
    release.wait(10)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("started")
        yield
        events.append("stopped")

    app = FastAPI(lifespan=lifespan)

    @app.get("/page")
    async def page() -> dict[str, str]:
        return {"page": "built"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"from": "the app"}

    return app


def test_healthz_answers_before_the_app_is_built_and_pages_wait_for_it(
    database: Database,
) -> None:
    async def scenario() -> None:
        release = threading.Event()
        events: list[str] = []
        app = HealthFirstApp("dashboard", database, lambda: slow_app(release, events))
        lifespan = Lifespan(app)
        assert await lifespan.send("startup") == "lifespan.startup.complete"

        status, body = await get(app, "/healthz")
        report = json.loads(body)
        assert status == 200
        assert (report["process"], report["status"]) == ("dashboard", "ok")
        assert report["schema"]["at_head"] is True

        page = asyncio.create_task(get(app, "/page"))
        await asyncio.sleep(0.2)
        assert not page.done(), "a page must wait for the app"
        release.set()
        assert await asyncio.wait_for(page, 5) == (200, b'{"page":"built"}')
        assert events == ["started"], "the app's own lifespan ran"
        # Once built, the app answers everything itself.
        assert await get(app, "/healthz") == (200, b'{"from":"the app"}')

        assert await lifespan.send("shutdown") == "lifespan.shutdown.complete"
        assert events == ["started", "stopped"]

    asyncio.run(scenario())


def test_a_build_that_fails_stops_the_server_with_its_exit_code(database: Database) -> None:
    async def scenario() -> None:
        stopped = asyncio.Event()

        def build() -> Any:
            raise SystemExit(2)

        app = HealthFirstApp("dashboard", database, build)
        app.stop_server = stopped.set
        lifespan = Lifespan(app)
        assert await lifespan.send("startup") == "lifespan.startup.complete"

        await asyncio.wait_for(stopped.wait(), 5)
        assert app.exit_code == 2
        assert (await get(app, "/page"))[0] == 503
        assert await lifespan.send("shutdown") == "lifespan.shutdown.complete"

    asyncio.run(scenario())
