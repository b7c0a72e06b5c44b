"""Providers pointed at the scripted LLM server, with short retry waits."""

from __future__ import annotations

import uuid

import pytest

from configurable_agents.llm import Provider, RetryPolicy, get_provider
from tests.fakes import FakeLLMServer, fake_llm_server  # noqa: F401

KEY_ENV = "CA_TEST_LLM_KEY"
# Real backoff, only shorter, so that a test with retries takes milliseconds.
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh API key in the environment variable the providers are told to read."""
    key = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv(KEY_ENV, key)
    return key


def _provider(name: str, model: str, base_url: str) -> Provider:
    return get_provider(name, model=model, base_url=base_url, api_key_env=KEY_ENV, retry=FAST_RETRY)


@pytest.fixture
def openai(fake_llm_server: FakeLLMServer, api_key: str) -> Provider:  # noqa: F811
    return _provider("openai", "gpt-4o-mini", fake_llm_server.base_url)


@pytest.fixture
def anthropic(fake_llm_server: FakeLLMServer, api_key: str) -> Provider:  # noqa: F811
    return _provider("anthropic", "claude-3-5-haiku-latest", fake_llm_server.url)
