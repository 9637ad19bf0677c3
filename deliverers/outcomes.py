"""What an attempt's outcome does to a report and to its recipient's health.

`decide` is pure: the report, the outcome, the recipient's health and its delivery control
in, a `Decision` out (the move to record and the health to keep). `apply_outcome` records
it. Used by the delivery stage (after a push), by the receipt listener (a fiks-io receipt)
and by the receipt deadline job; the caller has locked the report and owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from deliverers.base import DeliveryError, PermanentError, Receipt, Sent, TransientError
from deliverers.breaker import after_rejection, after_success, after_transient_failure
from deliverers.control import DeliveryControl
from deliverers.retry import DeadLetter
from ledger.lifecycle import State
from ledger.records import DeadLetterKind, Kind, RecipientHealth, Report, StateKind
from ledger.uow import UnitOfWork

DELIVERER = "deliverer"

Outcome = Receipt | Sent | DeliveryError

_CLEARED: Mapping[str, Any] = {"lease_until": None, "receipt_due_at": None}


@dataclass(frozen=True)
class Move:
    """A state change to record, with why and what else changes on the report."""

    to_state: State
    reason: str | None = None
    kind: Kind | None = None
    detail: Mapping[str, Any] | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    move: Move
    health: RecipientHealth  # the recipient's health after this outcome


def dead_letter(reason: str, kind: DeadLetterKind, detail: Mapping[str, Any] | None = None) -> Move:
    return Move(
        State.DEAD_LETTERED,
        reason=reason,
        kind=kind,
        detail=detail,
        changes={**_CLEARED, "next_attempt_at": None},
    )


def decide(
    report: Report,
    result: Outcome,
    health: RecipientHealth,
    *,
    control: DeliveryControl,
    now: datetime,
    jitter: Callable[[], float],
    detail: Mapping[str, Any],
) -> Decision:
    """What `result` means for `report` (whose attempt it was) and for its recipient."""
    detail = dict(detail)
    if isinstance(result, Receipt):
        detail.update(status_code=result.status_code, saksreferanse=result.saksreferanse)
        if result.replay:
            detail["replay"] = True
        if not result.proven:
            detail["proven"] = False
        changes = {
            **_CLEARED,
            "saksreferanse": result.saksreferanse,
            "delivery_sha256": result.sha256,
        }
        return Decision(
            Move(State.DELIVERED, detail=detail, changes=changes), after_success(health, now)
        )
    if isinstance(result, Sent):
        detail["message_id"] = result.message_id
        due = now + timedelta(seconds=control.receipt_deadline_seconds)
        changes = {"lease_until": None, "receipt_due_at": due}
        return Decision(Move(State.AWAITING_RECEIPT, detail=detail, changes=changes), health)
    detail.update(status_code=result.status_code, error=type(result).__name__)
    reason = str(result)
    if isinstance(result, TransientError):
        retry = control.policy.decide(
            report.attempts,
            first_attempt_due=report.routed_at or report.received_at,
            now=now,
            error=reason,
            retry_after=result.retry_after,
            jitter=jitter,
        )
        failed = after_transient_failure(health, control.breaker, now, reason)
        if isinstance(retry, DeadLetter):
            return Decision(dead_letter(retry.reason, DeadLetterKind.EXHAUSTED, detail), failed)
        detail["retry_in_seconds"] = round(retry.delay_seconds, 3)
        changes = {**_CLEARED, "next_attempt_at": retry.at}
        move = Move(State.RETRY_SCHEDULED, reason, StateKind.RETRYING, detail, changes)
        return Decision(move, failed)
    if isinstance(result, PermanentError):
        return Decision(dead_letter(reason, result.kind, detail), after_rejection(health))
    return Decision(dead_letter(reason, DeadLetterKind.REJECTED, detail), health)


def record(uow: UnitOfWork, report: Report, move: Move, *, at: datetime, actor: str) -> Report:
    return uow.reports.move(
        report,
        move.to_state,
        at=at,
        actor=actor,
        reason=move.reason,
        kind=move.kind,
        detail=move.detail,
        changes=move.changes,
    )


def apply_outcome(
    uow: UnitOfWork,
    report: Report,
    result: Outcome,
    *,
    control: DeliveryControl,
    now: datetime,
    jitter: Callable[[], float],
    detail: Mapping[str, Any],
    actor: str = DELIVERER,
) -> tuple[Report, RecipientHealth]:
    """Decide, then record the move and the recipient's new health in `uow`. Returns the
    moved report and the health as now locked and written, for a caller that goes on to use
    it in the same transaction."""
    assert report.recipient is not None
    health = uow.health.get(report.recipient, lock=True)
    decision = decide(
        report, result, health, control=control, now=now, jitter=jitter, detail=detail
    )
    if decision.health != health:
        uow.health.save(decision.health)
    return record(uow, report, decision.move, at=now, actor=actor), decision.health
