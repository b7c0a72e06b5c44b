"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``, the
``server`` extra of the package the project already depends on) serving the shipped
SmolLM2 GGUF, started once for the module, with its access log kept to count calls."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from configurable_agents.llm.local import embedded_model_path
from configurable_agents.settings import Settings, load_settings
from tests.conftest import free_port, unavailable

# The engine on a migrated SQLite database, as the engine's unit tests make it; its
# settings (below) point the openai provider at this server.
from tests.unit.engine.conftest import database, engine, store_run  # noqa: F401

MODEL_ALIAS = "smollm2"
# The chat builder's prompt carries the workflow JSON Schema in words on the json_object
# rung (about 9,500 tokens): the server's default context (2048) cannot hold it.
CONTEXT = 12288
START_TIMEOUT = 90.0
# A small model on 2 shared cores: generous, the tests assert on outcomes, not on time.
CALL_TIMEOUT = 600.0
_CALL = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})')


@dataclass
class LlamaServer:
    """The running server: its OpenAI base URL and its log."""

    base_url: str
    log: Path
    process: subprocess.Popen[bytes]

    def statuses(self) -> list[int]:
        """The status of every chat completion the server answered so far, in order."""
        return [int(code) for code in _CALL.findall(self.log.read_text(errors="replace"))]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    if importlib.util.find_spec("sse_starlette") is None:
        unavailable("llama-cpp-python[server] (pip install 'llama-cpp-python[server]')")
    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(embedded_model_path()),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(CONTEXT),
        "--n_threads",
        "2",
        # A fixed seed: the small model's answers (and so whether they fit max_tokens) are
        # the same on every run, so a failure here is the protocol's, not the dice's.
        "--seed",
        "7",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", log, process)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            # uvicorn waits for a generation in progress; nothing of it is needed now.
            process.kill()
            process.wait(timeout=5)


def _wait_ready(server: LlamaServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-2000:]
            pytest.fail(f"llama_cpp.server exited with {server.process.returncode}:\n{tail}")
        try:
            models = httpx.get(f"{server.base_url}/models", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            time.sleep(0.3)
            continue
        assert [model["id"] for model in models["data"]] == [MODEL_ALIAS]
        return
    pytest.fail(f"llama_cpp.server did not answer /v1/models within {START_TIMEOUT:g} s")


def server_settings(server: LlamaServer, data_dir: Path) -> Settings:
    """Settings whose LLM is the openai provider pointed at ``server``."""
    return load_settings(
        data_dir=data_dir,
        llm_provider="openai",
        llm_model=MODEL_ALIAS,
        llm_base_url=server.base_url,
        llm_timeout=CALL_TIMEOUT,
        tracking_enabled=False,
    )


@pytest.fixture
def engine_settings(llama_server: LlamaServer, data_dir: Path) -> Settings:
    """Overrides the engine fixtures' settings: their LLM is the real server."""
    return server_settings(llama_server, data_dir)
