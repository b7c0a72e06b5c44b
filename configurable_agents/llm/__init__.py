"""LLM providers: the embedded local model, any OpenAI-compatible endpoint, Anthropic.

    from configurable_agents.llm import LLMRequest, get_provider

    provider = get_provider("local")
    response = provider.complete(LLMRequest(messages=[{"role": "user", "content": "Hi"}]))
    response.text, response.prompt_tokens, response.cost, response.latency_ms

Importing this package is cheap: httpx and llama_cpp are imported when a provider
that needs them is made.
"""

from configurable_agents.llm.base import Provider, SettingNames
from configurable_agents.llm.errors import (
    LLMAuthError,
    LLMConfigError,
    LLMError,
    LLMHTTPError,
    LLMRequestError,
    LLMResponseError,
    LLMStructuredOutputError,
    LLMTimeoutError,
    LLMUnreachableError,
)
from configurable_agents.llm.factory import PROVIDERS, get_provider, provider_from_settings
from configurable_agents.llm.pricing import BUILTIN_PRICES, Cost, Price, PriceTable
from configurable_agents.llm.retry import RetryPolicy
from configurable_agents.llm.types import LLMRequest, LLMResponse, TokenCallback

__all__ = [
    "BUILTIN_PRICES",
    "PROVIDERS",
    "Cost",
    "LLMAuthError",
    "LLMConfigError",
    "LLMError",
    "LLMHTTPError",
    "LLMRequest",
    "LLMRequestError",
    "LLMResponse",
    "LLMResponseError",
    "LLMStructuredOutputError",
    "LLMTimeoutError",
    "LLMUnreachableError",
    "Price",
    "PriceTable",
    "Provider",
    "RetryPolicy",
    "SettingNames",
    "TokenCallback",
    "get_provider",
    "provider_from_settings",
]
