"""The one settings object. Every value comes from a `RELAY_*` environment variable.

Defaults give the embedded setup: a SQLite ledger and kombu's SQLAlchemy transport on
SQLite, both under `RELAY_DATA_DIR`. A bad value fails at start with the variable's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_TOKEN_LENGTH = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
BROKER_SCHEMES = ("sqla+sqlite", "redis", "rediss", "redis+socket", "amqp", "amqps", "pyamqp")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str = ""
    broker_url: str = ""
    broker_key_prefix: str | None = None
    routes_file: Path | None = None
    intake_tokens: SecretStr = SecretStr("")
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)

    verify_delay_seconds: float = Field(default=60, ge=0)
    retry_base_seconds: float = Field(default=5, gt=0)
    retry_max_attempts: int = Field(default=20, ge=1)
    retry_cap_seconds: float = Field(default=3600, gt=0)
    retry_max_age_seconds: float = Field(default=48 * 3600, gt=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=30, gt=0)
    max_concurrent_per_recipient: int = Field(default=4, ge=1)
    delivery_lease_seconds: float = Field(default=90, gt=0)
    # After a successful delivery, how long a worker goes on with the recipient's waiting
    # reports itself (no message and task each); 0: every report waits for its own task.
    delivery_follow_on_seconds: float = Field(default=2.0, ge=0, le=30)
    receipt_deadline_seconds: float = Field(default=3600, gt=0)
    sweep_after_seconds: float = Field(default=600, gt=0)
    reconcile_interval_seconds: float = Field(default=900, gt=0)
    reconcile_window_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    overdue_after_seconds: float = Field(default=3600, gt=0)
    alert_webhook_url: str | None = None
    # relay: our own JSON (docs/alert-webhook.md); alertmanager: Alertmanager's webhook body.
    alert_webhook_format: Literal["relay", "alertmanager"] = "relay"
    fiksio_konto: str = Field(default="relay", pattern=r"^[A-Za-z0-9._-]+$")
    fiksio_ttl_seconds: int = Field(default=24 * 3600, gt=0)

    # Report content at rest (README "Content privacy"): keys, retention, chain checks.
    content_keys: SecretStr = SecretStr("")
    content_key_file: Path | None = None
    retention_days: float = Field(default=30, gt=0)
    retention_interval_seconds: float = Field(default=3600, gt=0)
    chain_check_interval_seconds: float = Field(default=60, gt=0)
    checkpoint_signing_key: SecretStr = SecretStr("")
    checkpoint_key_file: Path | None = None
    checkpoint_interval_seconds: float = Field(default=3600, gt=0)
    checkpoint_settle_seconds: float = Field(default=300, ge=0)
    checkpoint_log: Path | None = None  # default: $RELAY_DATA_DIR/checkpoints.jsonl

    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    scheduler_tick_seconds: float = Field(default=1.0, gt=0)
    worker_concurrency: int = Field(default=4, ge=1)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    # Above the task time limit (75 s): a worker whose slots are all busy takes no message.
    worker_stall_seconds: float = Field(default=120.0, gt=0)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Celery task events (worker_send_task_events, task_send_sent_event), for Flower.
    task_events: bool = True
    # The operators' console (`/console` on the API): how long a session lasts from login,
    # how long it may go unused, and whether its cookie is sent only over HTTPS.
    console_session_seconds: float = Field(default=8 * 3600, gt=0)
    console_idle_seconds: float = Field(default=30 * 60, gt=0)
    console_secure_cookie: bool = False
    # `relay worker` and `relay scheduler` serve /metrics on this port (unset: they do not).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = _scheme(value)
        if not value or scheme in DATABASE_SCHEMES:
            return value
        if scheme.startswith("postgres"):
            raise ValueError(
                f"write postgresql+psycopg://… instead of {scheme}://… "
                "(the ledger speaks to PostgreSQL through psycopg 3)"
            )
        raise ValueError(
            f"{_shown(scheme)} is no ledger: use postgresql+psycopg://… or sqlite:///…"
        )

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if value and _scheme(value) not in BROKER_SCHEMES:
            raise ValueError(
                f"{_shown(_scheme(value))} is no broker: use redis://…, rediss://…, "
                "amqp://… or sqla+sqlite:///…"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}: use one of {', '.join(LOG_LEVELS)}")
        return level

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'ledger.sqlite'}"
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"
        self.client_tokens()  # fail at start, not at the first request
        return self

    def client_tokens(self) -> dict[str, str]:
        """Parse `RELAY_INTAKE_TOKENS` ("client:token,client:token") into token -> client."""
        tokens: dict[str, str] = {}
        raw = self.intake_tokens.get_secret_value().strip()
        if not raw:
            return tokens
        for position, entry in enumerate(raw.split(","), start=1):
            client, sep, token = entry.strip().partition(":")
            if not sep or not client or not token:
                raise ValueError(
                    f"RELAY_INTAKE_TOKENS entry {position} must look like client_id:token"
                )
            if len(token) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"RELAY_INTAKE_TOKENS: the token of client {client!r} is shorter than "
                    f"{MIN_TOKEN_LENGTH} characters"
                )
            if token in tokens:
                raise ValueError(f"RELAY_INTAKE_TOKENS: client {client!r} reuses another's token")
            tokens[token] = client
        return tokens

    @property
    def is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite") and self.broker_url.startswith("sqla+")


def _scheme(url: str) -> str:
    """The part before `://`, lower case (never the rest: it may hold a password)."""
    scheme, separator, _ = url.partition("://")
    return scheme.strip().lower() if separator else ""


def _shown(scheme: str) -> str:
    return f"{scheme}://…" if scheme else "a value without a scheme"
