"""Making providers from names and from the settings, with errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from configurable_agents.llm import LLMConfigError, get_provider, provider_from_settings
from configurable_agents.llm.anthropic_api import AnthropicProvider
from configurable_agents.llm.local import EMBEDDED_MODEL, LocalProvider
from configurable_agents.llm.openai_api import OpenAIProvider
from configurable_agents.settings import load_settings


@pytest.fixture(autouse=True)
def no_llm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, not from LLM_* variables of the shell."""
    for name in ("LLM_PROVIDER", "LLM_MODEL", "LLM_BASE_URL", "LLM_API_KEY_ENV", "LLM_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def test_nothing_configured_means_the_embedded_model() -> None:
    provider = provider_from_settings(load_settings(_env_file=None, local_model_threads=3))

    assert isinstance(provider, LocalProvider)
    assert provider.model == EMBEDDED_MODEL
    assert provider.path.name.endswith(".gguf") and provider.path.is_file()
    assert provider.n_threads == 3


def test_openai_from_settings() -> None:
    settings = load_settings(
        _env_file=None,
        llm_provider="openai",
        llm_model="gpt-4o-mini",
        llm_base_url="http://127.0.0.1:11434/v1/",
        llm_api_key_env="MY_KEY",
        llm_timeout=12,
    )

    provider = provider_from_settings(settings)

    assert isinstance(provider, OpenAIProvider)
    assert provider.endpoint.url == "http://127.0.0.1:11434/v1/chat/completions"
    assert provider.endpoint.api_key_env == "MY_KEY"
    assert provider.timeout == 12


def test_anthropic_has_a_default_endpoint_and_key_variable() -> None:
    provider = get_provider("anthropic", model="claude-3-5-haiku-latest")

    assert isinstance(provider, AnthropicProvider)
    assert provider.endpoint.url == "https://api.anthropic.com/v1/messages"
    assert provider.endpoint.api_key_env == "ANTHROPIC_API_KEY"


@pytest.mark.parametrize(
    ("provider", "options", "complaint"),
    [
        ("gemini", {}, "unknown LLM provider 'gemini': use one of local, openai, anthropic"),
        ("openai", {"model": "gpt-4o"}, "needs a base URL: set LLM_BASE_URL"),
        ("openai", {"base_url": "http://x/v1"}, "needs a model name: set LLM_MODEL"),
        ("anthropic", {}, "needs a model name: set LLM_MODEL"),
        (
            "openai",
            {"model": "m", "base_url": "localhost:8080"},
            "not an http(s) URL; check LLM_BASE_URL",
        ),
        ("local", {"model": "gpt-4o"}, "unknown local model 'gpt-4o'"),
        ("local", {"timeout": 0}, "timeout must be positive"),
    ],
)
def test_wrong_options_are_named(provider: str, options: dict, complaint: str) -> None:
    with pytest.raises(LLMConfigError) as caught:
        get_provider(provider, **options)

    assert complaint in str(caught.value)


def test_a_local_gguf_path_is_accepted(tmp_path: Path) -> None:
    model = tmp_path / "other.gguf"
    model.write_bytes(b"GGUF")

    provider = get_provider("local", model=str(model))

    assert provider.path == model.resolve()  # type: ignore[attr-defined]
