"""Tokens of running llm steps: to an in-process listener always, to the database only while
someone watches the run (and cleared when the run ends)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

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


THREE_NODES = """\
schema_version: 1
name: chain
state:
  text: {type: str, required: true}
  a: {type: str}
  b: {type: str}
  c: {type: str}
nodes:
  - {id: first, kind: llm, prompt: "{text}", output: a}
  - {id: second, kind: llm, prompt: "{a}", output: b}
  - {id: third, kind: llm, prompt: "{b}", output: c}
edges:
  - {from: START, to: first}
  - {from: first, to: second}
  - {from: second, to: third}
  - {from: third, to: END}
"""


def test_an_unwatched_run_reads_its_watches_once_not_once_per_step(
    engine: Engine, store_run: StoreRun, fake_llm_server: FakeLLMServer, database: Database
) -> None:
    for text in ("one", "two", "three"):
        fake_llm_server.push(Reply(text=text))
    run_id = store_run(THREE_NODES, {"text": "go"})
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        outcome = engine.execute(run_id)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)

    assert outcome is not None and outcome.state == "completed"
    # Three steps in well under RECHECK_EVERY: one read of the lease, no partial rows.
    assert sum("run_watches" in statement for statement in statements) == 1
    assert not any("step_partials" in statement for statement in statements)
    assert partial_rows(database) == 0


def test_a_watcher_of_a_fast_run_gets_every_step_row(
    engine: Engine, store_run: StoreRun, fake_llm_server: FakeLLMServer, database: Database
) -> None:
    for text in ("one", "two", "three"):
        fake_llm_server.push(Reply(text=text))
    run_id = store_run(THREE_NODES, {"text": "go"})
    with session_scope(database.session_factory) as session:
        live.watch(session, [run_id], 30)
    nodes: list[str] = []

    def spy(node: str, piece: str) -> None:
        with database.session_factory() as session:
            nodes.extend(row.node for row in live.partials(session, [run_id]) if row.text)

    outcome = engine.execute(run_id, on_token=spy)

    assert outcome is not None and outcome.state == "completed"
    # The lease read once at the first step covers the next ones: each published at once.
    assert {"first", "second"} <= set(nodes)
    assert partial_rows(database) == 0
