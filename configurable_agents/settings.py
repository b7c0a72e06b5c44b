"""One settings class for every process, read from the environment and `.env`.

Nothing else in the code base reads ``os.environ`` for configuration: processes
call :func:`load_settings` once and pass the result on.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from configurable_agents.model_files import gguf_problem

Port = Annotated[int, Field(ge=1, le=65535)]


class LLMProvider(StrEnum):
    """The LLM providers a workflow may use."""

    local = "local"
    openai = "openai"
    anthropic = "anthropic"


class LogLevel(StrEnum):
    """Log levels accepted by LOG_LEVEL."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class Settings(BaseSettings):
    """Every setting of the service set. Each field is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Where SQLite files (app database, MLflow store, queue) live.
    data_dir: Path = Path("var")
    # The only folder file tools may read and write; empty means DATA_DIR/workspace.
    workspace_dir: Path | None = None
    # Empty means SQLite in DATA_DIR; set a postgresql+psycopg:// URL to scale out.
    database_url: str = ""
    # Seconds to keep retrying an unreachable database at start before giving up.
    database_connect_timeout: float = Field(default=10.0, gt=0)
    # Seconds an app waits for the release step to bring the schema to head.
    release_wait_seconds: float = Field(default=120.0, gt=0)
    # Empty means a SQLite queue file in DATA_DIR; redis://host:port/db for Redis.
    queue_url: str = ""
    log_level: LogLevel = LogLevel.INFO

    dashboard_host: str = "127.0.0.1"
    dashboard_port: Port = 7861
    # Required when DASHBOARD_HOST is not a loopback address.
    dashboard_access_token: str = ""
    # API keys are required by the run API and /v1 off loopback; true: on loopback too.
    api_keys_required: bool = False
    # Longest wait of a "sync" run start before it answers 202 with the run id.
    api_sync_wait_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Longest wait of an MCP tool call (a workflow run) before it answers that the run goes on.
    mcp_call_timeout_seconds: float = Field(default=600.0, gt=0, le=86400)
    # A YAML file declaring MCP servers every workflow may call (top-level `mcp_servers:`).
    mcp_servers_file: Path | None = None
    # Seconds between two status snapshots of the live status stream.
    status_tick_seconds: float = Field(default=1.0, gt=0)
    # Seconds between two readings of CPU, memory, disk and the set's processes (psutil).
    resources_interval_seconds: float = Field(default=5.0, gt=0)
    # Past these the dashboard warns: machine CPU and memory in use, percent.
    resources_cpu_warn_percent: float = Field(default=90.0, gt=0, le=100)
    resources_memory_warn_percent: float = Field(default=90.0, gt=0, le=100)
    # Free disk under DATA_DIR below this many MB, or one process of the set above this RSS.
    resources_disk_free_warn_mb: int = Field(default=1024, ge=0)
    resources_process_rss_warn_mb: int = Field(default=2048, ge=1)

    chat_host: str = "127.0.0.1"
    chat_port: Port = 7860

    mlflow_host: str = "127.0.0.1"
    mlflow_port: Port = 5000
    # Empty means a SQLite store in DATA_DIR.
    mlflow_backend_store_uri: str = ""
    # Empty means the MLflow server of this set (http://MLFLOW_HOST:MLFLOW_PORT).
    mlflow_tracking_uri: str = ""
    # Off: runs are not sent to MLflow at all (the run record says so).
    tracking_enabled: bool = True
    # A record MLflow could not take is tried again after 1 s, doubling up to this.
    tracking_retry_max_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Seconds a stopping worker (or the CLI) spends sending pending records; the rest
    # stay pending in the database and another sender delivers them.
    tracking_drain_seconds: float = Field(default=1.5, ge=0, le=60)

    worker_concurrency: int = Field(default=2, ge=1, le=64)
    # Seconds after which a worker that stopped heartbeating counts as stale; dead at 3x.
    worker_heartbeat_ttl: float = Field(default=15.0, gt=0)
    # Longest wait in seconds between two looks at an empty SQLite queue (Redis blocks instead).
    worker_poll_seconds: float = Field(default=0.02, gt=0, le=10)
    # Seconds a run's lease lasts; its worker renews it every third of that while it runs.
    run_lease_seconds: float = Field(default=30.0, gt=0)
    # Seconds a queued run may go unclaimed after it was handed to the queue before the
    # reconciler (in every worker) hands it over again: a lost message heals within this.
    reconcile_after_seconds: float = Field(default=10.0, gt=0)
    # Executions a run gets when its worker dies under it before it fails with the reason.
    run_max_attempts: int = Field(default=3, ge=1, le=100)
    # Runs executing at once over all workers, and per workflow; 0 means no limit.
    max_concurrent_runs: int = Field(default=0, ge=0)
    max_runs_per_workflow: int = Field(default=0, ge=0)
    # Queued runs beyond which starting another answers 429 instead of queueing it.
    queue_max_depth: int = Field(default=10_000, ge=1)
    # NAME of the environment variable holding the webhook signing secret (never the secret).
    webhook_secret_env: str = "WEBHOOK_SECRET"
    # Largest webhook body accepted, in bytes; a larger one answers 413.
    webhook_max_bytes: int = Field(default=1_048_576, ge=1)

    llm_provider: LLMProvider = LLMProvider.local
    # Empty means the provider's default (the embedded SmolLM2 for `local`).
    llm_model: str = ""
    llm_base_url: str = ""
    # Name of the environment variable that holds the API key (never the key itself).
    llm_api_key_env: str = ""
    llm_timeout: float = Field(default=60.0, gt=0)
    # Any GGUF chat model for the local provider; empty means the embedded SmolLM2.
    local_model_path: Path | None = None
    local_model_threads: int = Field(default=2, ge=1, le=64)

    @field_validator("database_url", "queue_url", "mlflow_backend_store_uri", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("workspace_dir", "local_model_path", "mcp_servers_file", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("local_model_path")
    @classmethod
    def _gguf_file(cls, value: Path | None) -> Path | None:
        # Checked at start (exit 2 naming the setting), not at a run's first llm step.
        if value is None:
            return None
        path = value.expanduser()
        problem = gguf_problem(path)
        if problem is not None:
            raise ValueError(problem)
        return path.resolve()

    @cached_property
    def data_path(self) -> Path:
        """DATA_DIR as an absolute path (not created here)."""
        return self.data_dir.expanduser().resolve()

    @property
    def workspace_path(self) -> Path:
        """WORKSPACE_DIR as an absolute path (DATA_DIR/workspace by default)."""
        chosen = self.workspace_dir or self.data_path / "workspace"
        return chosen.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the SQLite file in the data folder."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.data_path / 'configurable_agents.db'}"

    @property
    def effective_queue_url(self) -> str:
        """QUEUE_URL, or the SQLite queue file in the data folder."""
        return self.queue_url or f"sqlite:///{self.data_path / 'queue.db'}"

    @property
    def effective_mlflow_backend_store_uri(self) -> str:
        """The MLflow server's own store: never the app database."""
        return self.mlflow_backend_store_uri or f"sqlite:///{self.data_path / 'mlflow.db'}"

    @property
    def effective_mlflow_tracking_uri(self) -> str:
        """Where runs are tracked: this set's MLflow server unless configured."""
        return self.mlflow_tracking_uri or f"http://{self.mlflow_host}:{self.mlflow_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{_url_host(self.dashboard_host)}:{self.dashboard_port}"

    @property
    def chat_url(self) -> str:
        return f"http://{_url_host(self.chat_host)}:{self.chat_port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://{_url_host(self.mlflow_host)}:{self.mlflow_port}"

    def ensure_data_dir(self) -> Path:
        """Create the data folder on first start and return it."""
        self.data_path.mkdir(parents=True, exist_ok=True)
        return self.data_path


SECRET_FIELDS = frozenset({"dashboard_access_token"})


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (psycopg2 is not installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _url_host(host: str) -> str:
    # A browser cannot reach 0.0.0.0; show the loopback address instead.
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class SettingsError(Exception):
    """A setting has a wrong value; the message names the setting."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per wrong setting, naming its environment variable."""
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]).upper() or "settings"
        value = item.get("input")
        shown = "" if name.lower() in SECRET_FIELDS else f" (got {value!r})"
        lines.append(f"invalid setting {name}: {item['msg']}{shown}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, raising SettingsError with one line naming each wrong setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


def load_settings_or_exit(process: str) -> Settings:
    """Settings for a process entry point: a wrong value stops it with one line."""
    try:
        return load_settings()
    except SettingsError as error:
        print(f"{process}: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
