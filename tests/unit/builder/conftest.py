"""Builders over real parts: settings on a temporary data folder, the gallery from the
examples folder, the fake OpenAI-compatible server, a migrated database."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TypeVar

import pytest

from configurable_agents.builder import Builder, Gallery, TurnResult, compose, interpret
from configurable_agents.builder.events import Progress
from configurable_agents.config import WorkflowConfig, config_from_data
from configurable_agents.settings import Settings, load_settings
from tests.fakes import FakeLLMServer, fake_llm_server  # noqa: F401

T = TypeVar("T")


def drain(turn: Generator[Progress, None, T]) -> tuple[list[Progress], T]:
    """Every progress event of a turn and what it returned."""
    events: list[Progress] = []
    while True:
        try:
            events.append(next(turn))
        except StopIteration as stop:
            return events, stop.value


@pytest.fixture
def local_settings(data_dir: Path) -> Settings:
    """No capable provider: the embedded model only."""
    return load_settings(data_dir=data_dir, llm_provider="local", llm_model="", llm_base_url="")


def _capable(data_dir: Path, provider: str, model: str, base_url: str, key_env: str) -> Settings:
    return load_settings(
        data_dir=data_dir,
        llm_provider=provider,
        llm_model=model,
        llm_base_url=base_url,
        llm_api_key_env=key_env,
        llm_timeout=10,
    )


@pytest.fixture
def openai_settings(data_dir: Path, fake_llm_server: FakeLLMServer) -> Settings:  # noqa: F811
    """A capable OpenAI-compatible provider: the tests' fake server (no key needed)."""
    return _capable(data_dir, "openai", "fake-model", fake_llm_server.base_url, "")


@pytest.fixture
def anthropic_settings(data_dir: Path, fake_llm_server: FakeLLMServer) -> Settings:  # noqa: F811
    """The Messages API on the fake server; the key is read from CHAT_TEST_ANTHROPIC_KEY."""
    return _capable(
        data_dir, "anthropic", "claude-test", fake_llm_server.url, "CHAT_TEST_ANTHROPIC_KEY"
    )


@pytest.fixture(scope="session")
def gallery() -> Gallery:
    return Gallery.load()


@pytest.fixture
def rules_builder(local_settings: Settings) -> Builder:
    """Offline, an empty gallery and no model texts: the rules alone."""
    return Builder(local_settings, Gallery([]), fill_budget_seconds=0)


def build(request: str) -> WorkflowConfig:
    """The config the rules alone make of a request."""
    return config_from_data(compose(interpret(request)))


def run_turn(
    builder: Builder, message: str, current=None, **options
) -> tuple[list[str], TurnResult]:  # type: ignore[no-untyped-def]
    """The progress messages and the result of one turn."""
    events, result = drain(builder.turn(message, current, **options))
    return [event.message for event in events], result
