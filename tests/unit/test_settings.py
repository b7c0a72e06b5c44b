"""Settings: defaults, environment overrides, one clear line per wrong value, docs complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from configurable_agents.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_run_offline_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings()

    assert settings.llm_provider == "local"
    assert settings.dashboard_host == settings.chat_host == settings.mlflow_host == "127.0.0.1"
    assert (
        settings.effective_database_url
        == f"sqlite:///{tmp_path / 'var' / 'configurable_agents.db'}"
    )
    assert settings.effective_queue_url.startswith("sqlite:///")
    assert settings.effective_mlflow_backend_store_uri.endswith("var/mlflow.db")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_PORT", "9001")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/app")

    settings = load_settings()

    assert settings.dashboard_port == 9001
    assert settings.effective_database_url == "postgresql+psycopg://u@db:5432/app"


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CHAT_PORT=7999\n")

    assert load_settings().chat_port == 7999


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DASHBOARD_PORT", "abc", "DASHBOARD_PORT"),
        ("CHAT_PORT", "70000", "CHAT_PORT"),
        ("LLM_PROVIDER", "nonsense", "LLM_PROVIDER"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("WORKER_CONCURRENCY", "0", "WORKER_CONCURRENCY"),
    ],
)
def test_wrong_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = str(caught.value)
    assert message.startswith(f"invalid setting {named}:")
    assert "\n" not in message


def test_secret_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(dashboard_access_token=["not", "a", "string"])
    assert "not" not in str(caught.value).split(":", 1)[1]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from .env.example"
    assert documented - fields == set(), ".env.example documents settings that do not exist"


def test_readme_names_both_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "    make start" in readme and "    make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
