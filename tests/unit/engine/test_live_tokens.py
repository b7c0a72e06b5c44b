"""Tokens of running llm steps: to an in-process listener always, to the database only while
someone watches the run (and cleared when the run ends)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from configurable_agents.bootstrap import Database
from configurable_agents.engine import live_tokens
from configurable_agents.engine.runner import Engine
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import StepPartial
from configurable_agents.storage.repositories import live
from tests.fakes import FakeLLMServer, Reply
from tests.fakes.workflows import echo_workflow
from tests.unit.engine.conftest import StoreRun

ONE_NODE = echo_workflow("talk", "say")


def partial_rows(database: Database) -> int:
    with database.session_factory() as session:
        return session.scalar(select(func.count()).select_from(StepPartial)) or 0


def test_a_listener_gets_every_piece_and_an_unwatched_run_writes_nothing(
    engine: Engine,
    store_run: StoreRun,
    fake_llm_server: FakeLLMServer,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_llm_server.push(Reply(text="one two three four"))
    run_id = store_run(ONE_NODE, {"text": "go"})
    pieces: list[tuple[str, str]] = []
    opened: list[live_tokens.RunTokens] = []
    for_run = engine.tokens.for_run
    monkeypatch.setattr(
        engine.tokens, "for_run", lambda *a, **k: opened.append(for_run(*a, **k)) or opened[-1]
    )

    outcome = engine.execute(run_id, on_token=lambda node, piece: pieces.append((node, piece)))

    assert outcome is not None and outcome.state == "completed"
    assert {node for node, _ in pieces} == {"say"}
    assert "".join(piece for _, piece in pieces) == "one two three four"
    assert opened[0].writes == 0 and partial_rows(database) == 0


def test_a_watched_run_publishes_its_text_so_far_then_clears_it(
    engine: Engine,
    store_run: StoreRun,
    fake_llm_server: FakeLLMServer,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_llm_server.push(Reply(text="slowly written words here", chunk_delay=0.15))
    run_id = store_run(ONE_NODE, {"text": "go"})
    with session_scope(database.session_factory) as session:
        live.watch(session, [run_id], 30)
    seen: list[str] = []

    def spy(node: str, piece: str) -> None:
        with database.session_factory() as session:
            seen.extend(row.text for row in live.partials(session, [run_id]))

    outcome = engine.execute(run_id, on_token=spy)

    assert outcome is not None and outcome.state == "completed"
    # While the step ran, its row grew piece by piece (the listener runs before publishing).
    growing = [text for text in seen if text]
    assert growing and all("slowly written words here".startswith(t) for t in growing)
    assert len(set(growing)) >= 2
    # The stored step is the record; the window on it is gone once the run ended.
    assert partial_rows(database) == 0
