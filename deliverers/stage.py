"""The delivery stage: one attempt to push a ROUTED report, and its outcome in the ledger.

No transaction is open while the case system is called. The outcome is recorded only if
the report is still ROUTED; a duplicate message finds it moved on and writes nothing, and
the case system's idempotency on the report id makes a duplicate push harmless.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deliverers.base import (
    Deliverer,
    Delivery,
    DeliveryError,
    PermanentError,
    Receipt,
    TransientError,
)
from deliverers.body import delivery_body, sha256_hex
from deliverers.retry import DeadLetter, RetryPolicy
from ledger.lifecycle import State
from ledger.records import Report
from ledger.uow import UnitOfWork

DELIVERER = "deliverer"


@dataclass(frozen=True)
class Outcome:
    result: Receipt | DeliveryError
    duration_seconds: float


def body_for(report: Report, document: bytes) -> bytes:
    assert report.recipient is not None
    assert report.kommunenummer is not None
    return delivery_body(
        report_id=report.id,
        meldingstype=report.meldingstype,
        recipient=report.recipient,
        kommunenummer=report.kommunenummer,
        bydelsnummer=report.bydelsnummer,
        mottatt=report.received_at,
        document=document,
    )


def deliver_report(
    uow_factory: Callable[[], UnitOfWork],
    report_id: str,
    *,
    deliverer_for: Callable[[str], Deliverer | None],
    policy_for: Callable[[str], RetryPolicy],
    now: Callable[[], datetime],
    jitter: Callable[[], float] = random.random,
) -> State | None:
    """Make one attempt if the report is ROUTED; returns the state it was moved to, or None."""
    with uow_factory() as uow:
        report = uow.ledger.get(report_id)
        if report is None or report.state is not State.ROUTED or report.recipient is None:
            return None
        document = uow.ledger.document(report_id)
    assert document is not None, f"report {report_id} has no stored content"

    deliverer = deliverer_for(report.recipient)
    started = time.monotonic()
    result: Receipt | DeliveryError
    if deliverer is None:
        result = PermanentError(f"recipient {report.recipient} is not in the routes file")
    else:
        body = body_for(report, document)
        try:
            result = deliverer.deliver(Delivery(report.id, body, sha256_hex(body)))
        except DeliveryError as error:
            result = error
    outcome = Outcome(result, time.monotonic() - started)
    return record_outcome(
        uow_factory(),
        report_id,
        outcome,
        policy=policy_for(report.recipient),
        now=now,
        jitter=jitter,
    )


def record_outcome(
    uow: UnitOfWork,
    report_id: str,
    outcome: Outcome,
    *,
    policy: RetryPolicy,
    now: Callable[[], datetime],
    jitter: Callable[[], float],
) -> State | None:
    with uow:
        report = uow.ledger.get(report_id, lock=True)
        if report is None or report.state is not State.ROUTED:
            return None
        attempt = report.attempts + 1
        at = now()
        detail: dict[str, Any] = {
            "attempt": attempt,
            "duration_ms": round(outcome.duration_seconds * 1000),
        }
        result = outcome.result
        if isinstance(result, Receipt):
            detail.update(status_code=result.status_code, saksreferanse=result.saksreferanse)
            moved = uow.ledger.move(
                report,
                State.DELIVERED,
                at=at,
                actor=DELIVERER,
                detail=detail,
                changes={
                    "attempts": attempt,
                    "saksreferanse": result.saksreferanse,
                    "delivery_sha256": result.sha256,
                },
            )
        else:
            detail.update(status_code=result.status_code, error=type(result).__name__)
            reason = str(result)
            if isinstance(result, TransientError):
                decision = policy.decide(
                    attempt,
                    first_attempt_due=report.routed_at or report.received_at,
                    now=at,
                    error=reason,
                    retry_after=result.retry_after,
                    jitter=jitter,
                )
            else:
                decision = DeadLetter(reason)
            if isinstance(decision, DeadLetter):
                moved = uow.ledger.move(
                    report,
                    State.DEAD_LETTERED,
                    at=at,
                    actor=DELIVERER,
                    reason=decision.reason,
                    detail=detail,
                    changes={"attempts": attempt},
                )
            else:
                detail["retry_in_seconds"] = round(decision.delay_seconds, 3)
                moved = uow.ledger.move(
                    report,
                    State.RETRY_SCHEDULED,
                    at=at,
                    actor=DELIVERER,
                    reason=reason,
                    detail=detail,
                    changes={"attempts": attempt, "next_attempt_at": decision.at},
                )
        uow.commit()
        return moved.state
