"""LOCAL_MODEL_PATH: any GGUF chat model the user has, run with the chat template from its
own metadata. The "other model" is a real GGUF written by the official ``gguf`` package:
the shipped SmolLM2 weights with a different chat template (no second model download)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from configurable_agents.config.schema import LLMConfig
from configurable_agents.engine.context import ProviderCache
from configurable_agents.llm import LLMConfigError, LLMRequest, provider_from_settings
from configurable_agents.llm.local import EMBEDDED_MODEL, LocalProvider, embedded_model_path
from configurable_agents.settings import SettingsError, load_settings

# Not SmolLM2's ChatML: a prompt formatted with it can only come from the file's metadata.
TEMPLATE = (
    "{% for message in messages %}### {{ message['role'] }}:\n{{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}### assistant:\n{% endif %}"
)
ROOT = Path(__file__).resolve().parents[3]


def _copy_with_metadata(target: Path, *options: str) -> Path:
    source = str(embedded_model_path())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gguf.scripts.gguf_new_metadata",
            "--force",
            *options,
            source,
            str(target),
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    return _copy_with_metadata(folder / "my-chat-model.gguf", "--chat-template", TEMPLATE)


def test_the_file_runs_with_its_own_chat_template(other_model: Path) -> None:
    provider = provider_from_settings(load_settings(local_model_path=str(other_model)))
    assert isinstance(provider, LocalProvider)
    assert provider.path == other_model.resolve()
    assert provider.model == "my-chat-model.gguf"

    messages = [{"role": "user", "content": "Name a colour."}]
    prompt = provider.loaded.formatter(messages=messages).prompt
    assert prompt.endswith("### user:\nName a colour.\n### assistant:\n")
    assert "<|im_start|>" not in prompt
    schema = {"type": "object", "properties": {"colour": {"type": "string"}}}
    response = provider.complete(LLMRequest(messages=messages, max_tokens=24, json_schema=schema))
    assert isinstance(response.parsed, dict)
    assert (response.model, response.structured_output) == ("my-chat-model.gguf", "grammar")


def test_workflow_steps_without_a_model_use_it(other_model: Path) -> None:
    cache = ProviderCache(load_settings(local_model_path=str(other_model)))

    assert cache.get(LLMConfig()).path == other_model.resolve()
    # A node naming the embedded model still gets it.
    assert cache.get(LLMConfig(model=EMBEDDED_MODEL)).path == embedded_model_path()


def test_the_embedded_model_stays_the_default() -> None:
    provider = provider_from_settings(load_settings(local_model_path=""))

    assert isinstance(provider, LocalProvider)
    assert (provider.model, provider.path) == (EMBEDDED_MODEL, embedded_model_path())


@pytest.mark.parametrize(
    ("make", "complaint"),
    [
        (lambda folder: folder / "missing.gguf", "does not exist"),
        (lambda folder: folder, "is not a file"),
        (
            lambda folder: _write(folder / "notes.gguf", b"this is text, not a model"),
            "is not a GGUF model file",
        ),
    ],
)
def test_a_wrong_path_names_the_setting(tmp_path: Path, make: object, complaint: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]

    with pytest.raises(SettingsError) as caught:
        load_settings(local_model_path=str(path))

    message = str(caught.value)
    assert message.startswith("invalid setting LOCAL_MODEL_PATH:")
    assert complaint in message and str(path) in message


def test_a_wrong_path_stops_a_process_at_start_with_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LOCAL_MODEL_PATH": str(missing)}

    done = subprocess.run(
        [sys.executable, "-m", "configurable_agents", "status"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    assert "invalid setting LOCAL_MODEL_PATH" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_model_without_a_chat_template_is_refused_clearly(tmp_path: Path) -> None:
    bare = _copy_with_metadata(
        tmp_path / "base-model.gguf", "--remove-metadata", "tokenizer.chat_template"
    )
    provider = provider_from_settings(load_settings(local_model_path=str(bare)))

    with pytest.raises(LLMConfigError) as caught:
        provider.complete(LLMRequest(messages=[{"role": "user", "content": "Hi"}]))

    message = str(caught.value)
    assert "no chat template" in message and "LOCAL_MODEL_PATH" in message


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
