"""What an attempt's outcome does to a report and to its recipient's health.

Used by the delivery stage (after a push), by the receipt listener (a fiks-io receipt) and
by the receipt deadline job. The caller has locked the report and owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from deliverers.base import DeliveryError, PermanentError, Receipt, Sent, TransientError
from deliverers.breaker import after_rejection, after_success, after_transient_failure
from deliverers.control import DeliveryControl
from deliverers.retry import DeadLetter
from ledger.lifecycle import State
from ledger.records import Report
from ledger.uow import UnitOfWork

DELIVERER = "deliverer"

Outcome = Receipt | Sent | DeliveryError


def apply_outcome(
    uow: UnitOfWork,
    report: Report,
    result: Outcome,
    *,
    control: DeliveryControl,
    now: datetime,
    jitter: Callable[[], float],
    detail: dict[str, Any],
    actor: str = DELIVERER,
) -> Report:
    assert report.recipient is not None
    health = uow.health.get(report.recipient, lock=True)
    cleared = {"lease_until": None, "receipt_due_at": None}
    if isinstance(result, Receipt):
        uow.health.save(after_success(health, now))
        detail.update(status_code=result.status_code, saksreferanse=result.saksreferanse)
        if result.replay:
            detail["replay"] = True
        if not result.proven:
            detail["proven"] = False
        return uow.ledger.move(
            report,
            State.DELIVERED,
            at=now,
            actor=actor,
            detail=detail,
            changes={
                **cleared,
                "saksreferanse": result.saksreferanse,
                "delivery_sha256": result.sha256,
            },
        )
    if isinstance(result, Sent):
        detail["message_id"] = result.message_id
        due = now + timedelta(seconds=control.receipt_deadline_seconds)
        return uow.ledger.move(
            report,
            State.AWAITING_RECEIPT,
            at=now,
            actor=actor,
            detail=detail,
            changes={"lease_until": None, "receipt_due_at": due},
        )
    detail.update(status_code=result.status_code, error=type(result).__name__)
    reason = str(result)
    if isinstance(result, TransientError):
        uow.health.save(after_transient_failure(health, control.breaker, now, reason))
        decision = control.policy.decide(
            report.attempts,
            first_attempt_due=report.routed_at or report.received_at,
            now=now,
            error=reason,
            retry_after=result.retry_after,
            jitter=jitter,
        )
        if isinstance(decision, DeadLetter):
            return dead_letter(uow, report, decision.reason, "exhausted", now, actor, detail)
        detail["retry_in_seconds"] = round(decision.delay_seconds, 3)
        return uow.ledger.move(
            report,
            State.RETRY_SCHEDULED,
            at=now,
            actor=actor,
            reason=reason,
            kind="retrying",
            detail=detail,
            changes={**cleared, "next_attempt_at": decision.at},
        )
    if isinstance(result, PermanentError):
        uow.health.save(after_rejection(health))
        return dead_letter(uow, report, reason, result.kind, now, actor, detail)
    return dead_letter(uow, report, reason, "rejected", now, actor, detail)


def dead_letter(
    uow: UnitOfWork,
    report: Report,
    reason: str,
    kind: str,
    now: datetime,
    actor: str,
    detail: dict[str, Any] | None = None,
) -> Report:
    return uow.ledger.move(
        report,
        State.DEAD_LETTERED,
        at=now,
        actor=actor,
        reason=reason,
        kind=kind,
        detail=detail,
        changes={"lease_until": None, "receipt_due_at": None, "next_attempt_at": None},
    )
