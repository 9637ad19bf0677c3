"""The ledger's tables. The Alembic migrations in `ledger/migrations` create exactly these.

`transitions` is append-only: no code updates or deletes a row, and the database refuses it
(a trigger on Postgres and on SQLite, created by the first migration). So are
`content_accesses` and `checkpoints` (triggers from migration 0005).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every dialect (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = BigInteger().with_variant(Integer, "sqlite")

# Reports not yet VERIFIED nor resolved by hand: the few a healthy pipeline is still carrying.
# Written as literal SQL so that a query with this very term can use the partial index
# `ix_reports_unfinished` (a bound parameter would hide the states from the planner).
UNFINISHED_SQL = "state NOT IN ('VERIFIED', 'RESOLVED_MANUALLY')"
# Likewise for `ix_reports_waiting`: a recipient's waiting reports, oldest first, to release.
WAITING_SQL = "state = 'RETRY_SCHEDULED'"
# Likewise for `ix_reports_received`: RECEIVED reports by municipality, oldest first, so
# that routing can take them in turns without reading a whole burst.
RECEIVED_SQL = "state = 'RECEIVED'"

reports = Table(
    "reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("client_id", String(100), nullable=False),
    Column("meldingstype", String(100), nullable=False),
    Column("state", String(32), nullable=False),
    Column("submitted_kommunenummer", String(4), nullable=False),
    Column("submitted_bydelsnummer", String(2)),
    Column("kommunenummer", String(4)),
    Column("bydelsnummer", String(2)),
    Column("recipient", String(100)),
    Column("vendor", String(50)),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("sendingstidspunkt", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("routed_at", UTCDateTime()),
    Column("next_attempt_at", UTCDateTime()),
    Column("delivery_sha256", String(64)),
    Column("saksreferanse", String(200)),
    Column("last_sequence", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("lease_until", UTCDateTime()),  # DELIVERING: when the attempt counts as abandoned
    Column("receipt_due_at", UTCDateTime()),  # AWAITING_RECEIPT: the receipt deadline
    Column("state_reason", Text),  # why the report is in its state (HELD, DEAD_LETTERED, …)
    Column("state_kind", String(40)),  # a machine-readable kind of that reason
    Column("missing_count", Integer, nullable=False, default=0),  # times found not stored
    Column("content_erased_at", UTCDateTime()),  # retention erased its content then
    Index(None, "state", "updated_at"),
    Index(None, "recipient", "state"),
    Index(None, "client_id", "received_at"),
    Index(
        "ix_reports_unfinished",
        "recipient",
        "received_at",
        postgresql_where=text(UNFINISHED_SQL),
        sqlite_where=text(UNFINISHED_SQL),
    ),
    Index(
        "ix_reports_waiting",
        "recipient",
        "received_at",
        postgresql_where=text(WAITING_SQL),
        sqlite_where=text(WAITING_SQL),
    ),
    Index(
        "ix_reports_received",
        "submitted_kommunenummer",
        "updated_at",
        postgresql_where=text(RECEIVED_SQL),
        sqlite_where=text(RECEIVED_SQL),
    ),
)

# Content lives apart from metadata so that it can be encrypted and erased on its own:
# `document` is sealed under a data key of its own, `wrapped_key` is that data key wrapped
# by the key ring's key `key_id` (see `ledger.content_crypto`). A NULL `key_id` is content
# stored before encryption, plain until `relay keys rotate` seals it.
report_contents = Table(
    "report_contents",
    metadata,
    Column("report_id", String(36), ForeignKey("reports.id"), primary_key=True),
    Column("document", LargeBinary, nullable=False),
    Column("key_id", String(32), index=True),
    Column("wrapped_key", LargeBinary),
)

# One check value per content key ever used, so that a wrong key with a known id stops the
# start instead of failing at the first delivery.
content_keys = Table(
    "content_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("check_value", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Every time a person read a report's content (`relay report show`): append-only.
content_accesses = Table(
    "content_accesses",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", String(36), ForeignKey("reports.id"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("operator", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Index(None, "report_id", "at"),
)

# Signed Merkle roots over every report's chain head (`ledger.checkpoint`): append-only.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("number", BigId, primary_key=True, autoincrement=True),
    Column("cutoff", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("reports", Integer, nullable=False),
    Column("root", String(64), nullable=False),
    Column("public_key", String(100), nullable=False),
    Column("signature", String(200), nullable=False),
)

transitions = Table(
    "transitions",
    metadata,
    Column("report_id", String(36), ForeignKey("reports.id"), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("from_state", String(32)),
    Column("to_state", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text),
    Column("detail", JSON),
    Column("previous_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", String(36), ForeignKey("reports.id"), nullable=False),
    Column("task", String(50), nullable=False),
    Column("queue", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime()),
    Column("publish_attempts", Integer, nullable=False, default=0),
    Index(None, "published_at", "id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client_id", String(100), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("report_id", String(36), ForeignKey("reports.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "created_at"),
)

# Each recipient's health, shared by every worker: the circuit breaker and the last outcomes.
recipient_health = Table(
    "recipient_health",
    metadata,
    Column("recipient", String(100), primary_key=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("opens", Integer, nullable=False, default=0),
    Column("open_until", UTCDateTime()),
    Column("probe_report_id", String(36)),
    Column("probe_started_at", UTCDateTime()),
    Column("last_success_at", UTCDateTime()),
    Column("last_failure_at", UTCDateTime()),
    Column("last_error", Text),
    Column("checked_at", UTCDateTime()),  # the liveness check while open: when it last ran
    Column("answering", Boolean),  # and whether the case system answered it
)

# Alerts for people: one per report and kind (held, dead-lettered, overdue, …), sent to
# the alert webhook until it answers 2xx.
alerts = Table(
    "alerts",
    metadata,
    Column("report_id", String(36), ForeignKey("reports.id"), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("recipient", String(100)),
    Column("state", String(32), nullable=False),
    Column("reason", Text),
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("send_attempts", Integer, nullable=False, default=0),
    Column("next_send_at", UTCDateTime()),
    Index(None, "sent_at", "next_send_at"),
)

# Each process's last sign of life: a row per process (queue "") written by the process
# itself, and a row per (worker, queue) written when that worker consumed a heartbeat
# task from that queue. The scheduler's row says when it last sent heartbeats.
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("process_id", String(200), primary_key=True),
    Column("queue", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("hostname", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("beat_at", UTCDateTime(), nullable=False),
    Column("consumed_at", UTCDateTime()),  # a worker's last message taken from the broker
    # The routes table the process (or, on a queue's row, the pool process that took the
    # heartbeat) has in force: its file's SHA-256, and since when (migration 0008).
    Column("routes_sha256", String(64)),
    Column("routes_loaded_at", UTCDateTime()),
    Index(None, "role", "beat_at"),
)

# The operators' console (`relay.console`): its accounts, each with a password hash
# (`relay.console.passwords`) and a role, and their sessions. A session is known by the
# SHA-256 of its cookie's token, so a reader of the ledger cannot take one over (migration
# 0009). Not part of any report's history: nothing here is hash-chained.
console_users = Table(
    "console_users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("password_set_at", UTCDateTime(), nullable=False),
    Column("last_login_at", UTCDateTime()),
    Column("failed_logins", Integer, nullable=False, default=0),  # in a row
    Column("locked_until", UTCDateTime()),  # too many failures: no login until then
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_name", String(100), ForeignKey("console_users.name"), nullable=False),
    Column("csrf_token", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index(None, "user_name"),
    Index(None, "expires_at"),
)
