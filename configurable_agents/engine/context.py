"""What a running workflow needs around it: database, providers, workspace, callbacks."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.schema import LLMConfig, ModelPrice, WorkflowConfig
from configurable_agents.llm.factory import get_provider
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.models import RunStep
from configurable_agents.tracking.mlflow_logger import SpanRecord

StepCallback = Callable[[RunStep], None]


class RunCancelled(Exception):
    """The user cancelled the run; it stops before its next step."""


class NodeFailed(Exception):
    """A node failed; its step is stored with the error."""

    def __init__(self, node: str, error_type: str, message: str) -> None:
        super().__init__(f"node {node}: {error_type}: {message}")
        self.node = node
        self.error_type = error_type
        self.message = message


class ProviderCache:
    """One provider per distinct LLM configuration, shared by every run of the process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._providers: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def resolve(self, llm: LLMConfig) -> dict[str, Any]:
        """The node's LLM settings, falling back to the environment's LLM_* settings."""
        settings = self.settings
        provider = llm.provider or settings.llm_provider.value
        same_provider = provider == settings.llm_provider.value
        return {
            "provider": provider,
            "model": llm.model or (settings.llm_model if same_provider else ""),
            "base_url": llm.base_url or (settings.llm_base_url if same_provider else ""),
            "api_key_env": llm.api_key_env or (settings.llm_api_key_env if same_provider else ""),
            "timeout": llm.timeout or settings.llm_timeout,
        }

    def get(self, llm: LLMConfig, pricing: Mapping[str, ModelPrice] | None = None) -> Any:
        """The provider for these settings and the workflow's extra prices (created once)."""

        options = self.resolve(llm)
        prices = tuple(sorted((model, p.input, p.output) for model, p in (pricing or {}).items()))
        key = (*sorted(options.items()), prices)
        with self._lock:
            provider = self._providers.get(key)
            if provider is None:
                provider = get_provider(
                    options["provider"],
                    model=options["model"],
                    base_url=options["base_url"],
                    api_key_env=options["api_key_env"],
                    timeout=options["timeout"],
                    n_threads=self.settings.local_model_threads,
                    local_model_path=self.settings.local_model_path,
                    pricing={model: p.model_dump() for model, p in (pricing or {}).items()},
                )
                self._providers[key] = provider
            return provider


@dataclass
class RunContext:
    """Everything the node functions of one run share."""

    run_id: str
    workflow_name: str
    config: WorkflowConfig
    settings: Settings
    session_factory: sessionmaker[Session]
    providers: ProviderCache
    workspace: Path
    # Outputs of steps a previous attempt completed, by step key: not run again.
    previous_steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Keys of approval steps waiting for a decision (already stored).
    waiting_steps: dict[str, int] = field(default_factory=dict)
    on_step: StepCallback | None = None
    # node id -> token callback of its new execution (engine/live_tokens.py).
    tokens: Callable[[str], Any] | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    # Runs a stored child run to its end in this process (a workflow called as a tool).
    run_child: Callable[[str], Any] | None = None
    spans: list[SpanRecord] = field(default_factory=list)
    _spans_lock: threading.Lock = field(default_factory=threading.Lock)
    # The claim this execution holds: every step write is a compare-and-set on it.
    epoch: int | None = None
    # Seconds after the last proof of the claim (claim, step write) before a step checks it
    # again before running: a live worker proves it all the time, a thawed one does not.
    claim_check_seconds: float = 1.0
    _claim_confirmed: float = field(default_factory=time.monotonic)

    def add_span(self, span: SpanRecord) -> None:
        with self._spans_lock:
            self.spans.append(span)

    def claim_confirmed(self) -> None:
        """A fenced write just succeeded: the claim held a moment ago."""
        self._claim_confirmed = time.monotonic()

    def step_stored(self, step: RunStep, cancelled: bool, stop_message: str | None) -> None:
        """What follows every fenced step write: the claim held, the live view hears of the
        step, and a cancel asked for meanwhile stops the run (``stop_message`` None: the
        step failed, so the failure stops it instead)."""
        self.claim_confirmed()
        if self.on_step is not None:
            self.on_step(step)
        if cancelled and stop_message is not None:
            raise RunCancelled(stop_message)

    def check_claim(self) -> None:
        """Raise StaleClaimError when another claim took the run since this one (read only
        when the claim was not proven within ``claim_check_seconds``)."""
        if (
            self.epoch is None
            or time.monotonic() - self._claim_confirmed < self.claim_check_seconds
        ):
            return
        with self.session_factory() as session:
            run_lifecycle.check_claim(session, self.run_id, self.epoch)
        self.claim_confirmed()


def now_ns() -> int:
    return time.time_ns()
