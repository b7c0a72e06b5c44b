"""Make a provider from a name and options, or from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from configurable_agents.llm.anthropic_api import DEFAULT_BASE_URL, AnthropicProvider
from configurable_agents.llm.base import (
    DEFAULT_MAX_REPAIRS,
    DEFAULT_TIMEOUT,
    Provider,
    SettingNames,
)
from configurable_agents.llm.errors import LLMConfigError
from configurable_agents.llm.local import LocalProvider
from configurable_agents.llm.openai_api import OpenAIProvider
from configurable_agents.llm.pricing import PriceTable
from configurable_agents.llm.retry import RetryPolicy

if TYPE_CHECKING:
    from configurable_agents.settings import Settings

PROVIDERS = ("local", "openai", "anthropic")


def get_provider(
    provider: str = "local",
    *,
    model: str = "",
    base_url: str = "",
    api_key_env: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    n_threads: int = 2,
    pricing: PriceTable | Mapping[str, object] | None = None,
    retry: RetryPolicy | None = None,
    max_repairs: int = DEFAULT_MAX_REPAIRS,
    setting_names: SettingNames | None = None,
    local_model_path: Path | str | None = None,
) -> Provider:
    """A provider by name: ``local`` (the default), ``openai`` or ``anthropic``.

    ``pricing`` extends or overrides the built-in prices: ``{model: {input: $, output: $}}``
    per one million tokens. ``local_model_path`` (LOCAL_MODEL_PATH) is the GGUF file the
    local provider runs when no model is named. Wrong options raise LLMConfigError naming
    the setting.
    """
    names = setting_names or SettingNames()
    name = (provider or "local").strip().lower()
    if name not in PROVIDERS:
        raise LLMConfigError(
            f"unknown LLM provider {provider!r}: use one of {', '.join(PROVIDERS)} "
            "(check LLM_PROVIDER)"
        )
    if timeout <= 0:
        raise LLMConfigError(f"the LLM timeout must be positive, got {timeout} ({names.timeout})")
    if name == "local":
        return LocalProvider(
            model=model,
            n_threads=n_threads,
            timeout=timeout,
            max_repairs=max_repairs,
            setting_names=names,
            model_path=local_model_path,
        )
    if not model:
        raise LLMConfigError(
            f"the {name} provider needs a model name: set {names.model} "
            f"(for example {'gpt-4o-mini' if name == 'openai' else 'claude-3-5-haiku-latest'})"
        )
    table = pricing if isinstance(pricing, PriceTable) else PriceTable(pricing)
    options = {
        "model": model,
        "timeout": timeout,
        "retry": retry,
        "pricing": table,
        "max_repairs": max_repairs,
        "setting_names": names,
    }
    if name == "openai":
        if not base_url.strip():
            raise LLMConfigError(
                f"the openai provider needs a base URL: set {names.base_url} (for example "
                "https://api.openai.com/v1, or http://127.0.0.1:11434/v1 for Ollama)"
            )
        _check_url(base_url, names)
        return OpenAIProvider(base_url=base_url, api_key_env=api_key_env, **options)

    if base_url.strip():
        _check_url(base_url, names)
    return AnthropicProvider(
        base_url=base_url.strip() or DEFAULT_BASE_URL, api_key_env=api_key_env, **options
    )


def provider_from_settings(
    settings: Settings, *, pricing: PriceTable | Mapping[str, object] | None = None
) -> Provider:
    """The provider the settings describe (LLM_PROVIDER, LLM_MODEL, LLM_BASE_URL,
    LLM_API_KEY_ENV, LLM_TIMEOUT, LOCAL_MODEL_PATH, LOCAL_MODEL_THREADS)."""
    return get_provider(
        str(settings.llm_provider.value),
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key_env=settings.llm_api_key_env,
        timeout=settings.llm_timeout,
        n_threads=settings.local_model_threads,
        pricing=pricing,
        local_model_path=settings.local_model_path,
    )


def _check_url(url: str, names: SettingNames) -> None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LLMConfigError(
            f"the LLM base URL {url!r} is not an http(s) URL; check {names.base_url}"
        )
