"""Fakes of outside services that run for real in tests (a scripted LLM HTTP server).

A conftest that wants the server imports the fixture::

    from tests.fakes import fake_llm_server  # noqa: F401
"""

from tests.fakes.openai_server import (
    LLAMA_CPP_FORMATS,
    FakeLLMServer,
    RecordedRequest,
    Reply,
    fake_llm_server,
    sample_for_schema,
)

__all__ = [
    "LLAMA_CPP_FORMATS",
    "FakeLLMServer",
    "RecordedRequest",
    "Reply",
    "fake_llm_server",
    "sample_for_schema",
]
