"""What an attempt's outcome does to a report and to its recipient's health.

`move_for` and `health_after` are pure: the report, the outcome and its recipient's
delivery control in, the move to record out; the outcome and the recipient's health in,
the health to keep out. `apply_outcome` records both. Used by the delivery stage (after a
push), by the receipt listener (a fiks-io receipt) and by the receipt deadline job; the
caller owns the transaction and has locked the report, or read it before its attempt (the
move is guarded by the report's sequence: `ConcurrentChange` if it moved since).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from deliverers.base import DeliveryError, PermanentError, Receipt, Sent, TransientError
from deliverers.breaker import (
    after_rejection,
    after_success,
    after_transient_failure,
    worth_saving,
)
from deliverers.control import DeliveryControl
from deliverers.retry import DeadLetter
from ledger.lifecycle import State
from ledger.records import DeadLetterKind, Move, RecipientHealth, Report, StateKind
from ledger.uow import UnitOfWork

DELIVERER = "deliverer"

Outcome = Receipt | Sent | DeliveryError

_CLEARED: Mapping[str, Any] = {"lease_until": None, "receipt_due_at": None}


def dead_letter(reason: str, kind: DeadLetterKind, detail: Mapping[str, Any] | None = None) -> Move:
    return Move(
        State.DEAD_LETTERED,
        reason=reason,
        kind=kind,
        detail=detail,
        changes={**_CLEARED, "next_attempt_at": None},
    )


def move_for(
    report: Report,
    result: Outcome,
    *,
    control: DeliveryControl,
    now: datetime,
    jitter: Callable[[], float],
    detail: Mapping[str, Any],
) -> Move:
    """What `result` means for `report`, whose attempt it was."""
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
        return Move(State.DELIVERED, detail=detail, changes=changes)
    if isinstance(result, Sent):
        detail["message_id"] = result.message_id
        due = now + timedelta(seconds=control.receipt_deadline_seconds)
        return Move(
            State.AWAITING_RECEIPT,
            detail=detail,
            changes={"lease_until": None, "receipt_due_at": due},
        )
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
        if isinstance(retry, DeadLetter):
            return dead_letter(retry.reason, DeadLetterKind.EXHAUSTED, detail)
        detail["retry_in_seconds"] = round(retry.delay_seconds, 3)
        changes = {**_CLEARED, "next_attempt_at": retry.at}
        return Move(State.RETRY_SCHEDULED, reason, StateKind.RETRYING, detail, changes)
    if isinstance(result, PermanentError):
        return dead_letter(reason, result.kind, detail)
    return dead_letter(reason, DeadLetterKind.REJECTED, detail)


def health_after(
    result: Outcome, health: RecipientHealth, *, control: DeliveryControl, now: datetime
) -> RecipientHealth:
    """What `result` means for its recipient's health: a success or a refusal closes the
    breaker, a transient failure counts towards opening it, a fiks-io send says nothing."""
    if isinstance(result, Receipt):
        return after_success(health, now)
    if isinstance(result, TransientError):
        return after_transient_failure(health, control.breaker, now, str(result))
    if isinstance(result, PermanentError):
        return after_rejection(health)
    return health


def record(uow: UnitOfWork, report: Report, move: Move, *, at: datetime, actor: str) -> Report:
    return uow.reports.move_through(report, (move,), at=at, actor=actor)


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
    moved report and the health as this outcome leaves it, for a caller that goes on to use
    it in the same transaction.

    The health row is read without a lock first: a success while the breaker is closed
    changes only the time of the last success, written (under the lock) once it has moved
    by a second (`worth_saving`), so one recipient's settlements do not take turns on its
    row. Any other change is decided again on the row read under its lock, and written.
    Raises `ConcurrentChange`, having written nothing, if the report moved since it was read."""
    assert report.recipient is not None
    move = move_for(report, result, control=control, now=now, jitter=jitter, detail=detail)
    # The report's row first (locked before the health row, as everywhere), and the health
    # read in the same statement.
    moved, health = uow.reports.move_reading_health(report, move, at=now, actor=actor)
    after = health_after(result, health, control=control, now=now)
    if worth_saving(health, after):
        health = uow.health.get(report.recipient, lock=True)
        after = health_after(result, health, control=control, now=now)
        if after != health:
            uow.health.save(after)
    return moved, after
