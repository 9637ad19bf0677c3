"""Plain values read from and written to the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ledger.lifecycle import State


class DeadLetterKind(StrEnum):
    """Why a report is dead-lettered, for operators' filters (`relay dlq list --reason`)."""

    REJECTED = "rejected"  # the case system refused it (a 4xx, or no such recipient)
    CONTENT_MISMATCH = "content-mismatch"  # stored, but with another hash than ours
    EXHAUSTED = "exhausted"  # retries used up (attempts or age)
    RECEIPT_FAILED = "receipt-failed"  # the mailbox answered feilet (fiks-io)
    MISSING = "missing"  # acknowledged, then lost by the case system too often


class StateKind(StrEnum):
    """Why a report is in a state other than DEAD_LETTERED, for scripts."""

    WAITING = "waiting"  # RETRY_SCHEDULED without an attempt: breaker open or no free slot
    RETRYING = "retrying"  # RETRY_SCHEDULED after a failed attempt
    ABANDONED = "abandoned"  # ROUTED again: an attempt's lease ran out
    MISSING = "missing"  # MISSING: found not stored after a receipt
    RESOLVED_MANUALLY = "resolved-manually"
    # HELD with an operator's request to route it again, not yet acted on by a worker
    # (which routes it with the routes table in force in that worker).
    REROUTE_REQUESTED = "reroute-requested"
    CONTENT_ERASED = "content-erased"  # VERIFIED or RESOLVED_MANUALLY, its content erased


Kind = DeadLetterKind | StateKind


@dataclass(frozen=True)
class NewReport:
    id: str
    client_id: str
    meldingstype: str
    submitted_kommunenummer: str
    submitted_bydelsnummer: str | None
    received_at: datetime
    sendingstidspunkt: datetime | None = None


@dataclass(frozen=True)
class IdempotencyKey:
    """The key a client sent with a new report, and the fingerprint of that request."""

    key: str
    request_sha256: str


@dataclass(frozen=True)
class Report:
    id: str
    client_id: str
    meldingstype: str
    state: State
    submitted_kommunenummer: str
    submitted_bydelsnummer: str | None
    kommunenummer: str | None
    bydelsnummer: str | None
    recipient: str | None
    vendor: str | None
    received_at: datetime
    sendingstidspunkt: datetime | None
    updated_at: datetime
    attempts: int
    routed_at: datetime | None
    next_attempt_at: datetime | None
    delivery_sha256: str | None
    saksreferanse: str | None
    last_sequence: int
    last_hash: str
    lease_until: datetime | None = None
    receipt_due_at: datetime | None = None
    state_reason: str | None = None
    state_kind: str | None = None
    missing_count: int = 0
    content_erased_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Report:
        values = dict(row)
        values["state"] = State(values["state"])
        return cls(**values)


@dataclass(frozen=True)
class Move:
    """A state change to record, with why and what else changes on the report."""

    to_state: State
    reason: str | None = None
    kind: Kind | None = None
    detail: Mapping[str, Any] | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    """One recorded state change: a link in the report's hash chain (see `ledger.chain`)."""

    report_id: str
    sequence: int
    from_state: State | None
    to_state: State
    at: datetime
    actor: str
    reason: str | None
    detail: Mapping[str, Any] | None
    previous_hash: str
    hash: str


def transition_from_row(row: Mapping[Any, Any]) -> Transition:
    return Transition(
        **{
            **row,
            "from_state": State(row["from_state"]) if row["from_state"] else None,
            "to_state": State(row["to_state"]),
        }
    )


@dataclass(frozen=True)
class Dispatch:
    """A message the outbox relay must publish once the transaction commits."""

    task: str
    queue: str


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    report_id: str
    task: str
    queue: str
    report_state: str | None = None  # the report's state when the row was read to be sent


@dataclass(frozen=True)
class RecipientHealth:
    """A recipient's circuit breaker and last outcomes, shared by every worker."""

    recipient: str
    consecutive_failures: int = 0
    opens: int = 0
    open_until: datetime | None = None
    probe_report_id: str | None = None
    probe_started_at: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None
    # The liveness check while the breaker is open (`deliverers.liveness`): when it last ran
    # and whether the case system answered it (None: not checked since the breaker opened).
    checked_at: datetime | None = None
    answering: bool | None = None

    @property
    def is_open(self) -> bool:
        return self.open_until is not None
