"""Cost of a call from a price table: built-in prices a workflow config can extend or override.

Prices are US dollars per one million tokens, as the vendors published them (2025).
Nothing is fetched from the network. A model without a price costs 0 and the answer
says the cost is unknown; the local model costs 0 and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from configurable_agents.llm.errors import LLMConfigError


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per one million input (prompt) and output (completion) tokens."""

    input: float
    output: float


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of a call, and whether it is known."""

    amount: float
    known: bool
    note: str = ""


BUILTIN_PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    # Anthropic
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-3-5-sonnet": Price(3.00, 15.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-opus-4": Price(15.00, 75.00),
    "claude-3-haiku": Price(0.25, 1.25),
}

# What may follow a known name in a dated or tagged model name (gpt-4o-2024-08-06, x:latest).
_VERSION_SEPARATORS = frozenset("-:@")

LOCAL_COST = Cost(0.0, True, "local model, no cost")


def _parse_price(model: str, value: object) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping) and set(value) == {"input", "output"}:
        try:
            price = Price(float(value["input"]), float(value["output"]))
        except (TypeError, ValueError):
            price = None
        if price is not None and price.input >= 0 and price.output >= 0:
            return price
    raise LLMConfigError(
        f"pricing for model {model!r}: expected {{input: <dollars per 1M tokens>, "
        f"output: <dollars per 1M tokens>}} with numbers >= 0, got {value!r}"
    )


class PriceTable:
    """Model name -> price. Exact names first, then the longest known name followed by a
    version suffix (so ``gpt-4o-2024-08-06`` is priced as ``gpt-4o`` and
    ``gpt-4o-mini-2024-07-18`` as ``gpt-4o-mini``)."""

    def __init__(
        self, overrides: Mapping[str, object] | None = None, *, builtin: bool = True
    ) -> None:
        self._prices: dict[str, Price] = dict(BUILTIN_PRICES) if builtin else {}
        for model, value in (overrides or {}).items():
            self._prices[str(model)] = _parse_price(str(model), value)
        # Longest first, so the first prefix that matches is the most specific one.
        self._prefixes = sorted(self._prices, key=len, reverse=True)

    def price_of(self, model: str) -> Price | None:
        """The price of a model, or None when none is known."""
        price = self._prices.get(model)
        if price is not None:
            return price
        for prefix in self._prefixes:
            if model.startswith(prefix) and model[len(prefix)] in _VERSION_SEPARATORS:
                return self._prices[prefix]
        return None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> Cost:
        """The cost of a call with these token counts."""
        price = self.price_of(model)
        if price is None:
            return Cost(
                0.0,
                False,
                f"no price known for model {model!r}; add it to the pricing table "
                "of the workflow config to track its cost",
            )
        amount = (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000
        return Cost(amount, True)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.price_of(model) is not None
