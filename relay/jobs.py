"""The periodic jobs: publish the outbox, release due retries, recover abandoned attempts,
enforce receipt deadlines, forget old idempotency keys.

Each job is one function over the ledger; the scheduler decides when they run. They are
safe to run in several scheduler processes at once (row locks, SKIP LOCKED, state checks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from deliverers.base import TransientError
from deliverers.breaker import Admit, admit
from deliverers.control import DeliveryControl
from deliverers.outcomes import apply_outcome
from ledger.lifecycle import State
from ledger.records import ROUTE, OutboxMessage, deliver_dispatch
from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
IDEMPOTENCY_KEY_DAYS = 7

UowFactory = Callable[[], UnitOfWork]
Clock = Callable[[], datetime]
ControlFor = Callable[[str], DeliveryControl]


class Publisher(Protocol):
    def publish(self, message: OutboxMessage) -> None: ...


def publish_outbox(
    uow_factory: UowFactory, publisher: Publisher, now: Clock, *, batch: int = 200
) -> int:
    """Publish committed outbox rows and mark them published. At least once, by design."""
    with uow_factory() as uow:
        messages = uow.ledger.unpublished(limit=batch)
        published: list[int] = []
        try:
            for message in messages:
                publisher.publish(message)
                published.append(message.id)
        finally:
            uow.ledger.mark_published(published, now())
            uow.commit()
    return len(published)


def release_due_retries(uow_factory: UowFactory, now: Clock, control_for: ControlFor) -> int:
    """Due RETRY_SCHEDULED reports go back to ROUTED and onto their queue, as far as each
    recipient's breaker and free slots allow; the others keep waiting, spending nothing."""
    with uow_factory() as uow:
        recipients = uow.ledger.recipients_with_due_retries(now())
    released = 0
    for recipient in recipients:
        control = control_for(recipient)
        with uow_factory() as uow:
            health = uow.health.get(recipient)
            busy = uow.ledger.count_for_recipient(recipient, [State.ROUTED, State.DELIVERING])
            moment = now()
            if health.open_until is not None and moment < health.open_until:
                continue
            slots = 1 if health.is_open else control.max_concurrent - busy
            due = uow.ledger.due_retries(recipient, moment, limit=max(slots, 0))
        for report_id in due:
            released += _release(uow_factory(), report_id, control, now)
    return released


def _release(uow: UnitOfWork, report_id: str, control: DeliveryControl, now: Clock) -> int:
    with uow:
        report = uow.ledger.get(report_id, lock=True)
        moment = now()
        if (
            report is None
            or report.state is not State.RETRY_SCHEDULED
            or report.next_attempt_at is None
            or report.next_attempt_at > moment
            or report.vendor is None
            or report.recipient is None
        ):
            return 0
        decision = admit(
            uow.health.get(report.recipient, lock=True), control.breaker, report_id, moment
        )
        if not isinstance(decision, Admit):
            return 0
        if decision.probe:
            uow.health.save(decision.health)
        uow.ledger.move(
            report,
            State.ROUTED,
            at=moment,
            actor=SCHEDULER,
            reason="probe: is the recipient back?" if decision.probe else "retry due",
            changes={"next_attempt_at": None},
            dispatch=deliver_dispatch(report.vendor),
        )
        uow.commit()
        return 1


def recover_abandoned_attempts(uow_factory: UowFactory, now: Clock) -> int:
    """DELIVERING past its lease: the worker was lost (or hung). Deliver again, same bytes."""
    with uow_factory() as uow:
        expired = uow.ledger.past_due(State.DELIVERING, "lease_until", now())
    recovered = 0
    for report_id in expired:
        with uow_factory() as uow:
            report = uow.ledger.get(report_id, lock=True)
            moment = now()
            if (
                report is None
                or report.state is not State.DELIVERING
                or report.lease_until is None
                or report.lease_until > moment
                or report.vendor is None
                or report.recipient is None
            ):
                continue
            health = uow.health.get(report.recipient, lock=True)
            if health.probe_report_id == report_id:
                uow.health.save(replace(health, probe_report_id=None, probe_started_at=None))
            uow.ledger.move(
                report,
                State.ROUTED,
                at=moment,
                actor=SCHEDULER,
                reason=f"attempt {report.attempts} had no outcome before its lease ran out",
                kind="abandoned",
                changes={"lease_until": None},
                dispatch=deliver_dispatch(report.vendor),
            )
            uow.commit()
            recovered += 1
    return recovered


def enforce_receipt_deadlines(
    uow_factory: UowFactory, now: Clock, control_for: ControlFor, jitter: Callable[[], float]
) -> int:
    """AWAITING_RECEIPT past its deadline counts as a failed attempt (the ledger keeps the
    deadline, not the broker)."""
    with uow_factory() as uow:
        overdue = uow.ledger.past_due(State.AWAITING_RECEIPT, "receipt_due_at", now())
    handled = 0
    for report_id in overdue:
        with uow_factory() as uow:
            report = uow.ledger.get(report_id, lock=True)
            moment = now()
            if (
                report is None
                or report.state is not State.AWAITING_RECEIPT
                or report.receipt_due_at is None
                or report.receipt_due_at > moment
                or report.recipient is None
            ):
                continue
            control = control_for(report.recipient)
            apply_outcome(
                uow,
                report,
                TransientError(f"no receipt within {control.receipt_deadline_seconds:g} s"),
                control=control,
                now=moment,
                jitter=jitter,
                detail={"attempt": report.attempts},
                actor=SCHEDULER,
            )
            uow.commit()
            handled += 1
    return handled


def sweep_stalled(uow_factory: UowFactory, now: Clock, sweep_after_seconds: float) -> int:
    """A report waiting for a stage that has not moved for too long is published to that
    stage again: the broker may have lost the message (flush, failover, a killed worker
    holding it unacknowledged). Publishing twice is harmless; the stages check state."""
    cutoff = now() - timedelta(seconds=sweep_after_seconds)
    with uow_factory() as uow:
        stalled = uow.ledger.stalled([State.RECEIVED, State.ROUTED], cutoff)
    swept = 0
    for report_id in stalled:
        with uow_factory() as uow:
            report = uow.ledger.get(report_id, lock=True)
            if report is None or report.updated_at >= cutoff:
                continue
            if report.state is State.RECEIVED:
                dispatch = ROUTE
            elif report.state is State.ROUTED and report.vendor is not None:
                dispatch = deliver_dispatch(report.vendor)
            else:
                continue
            uow.ledger.dispatch(report_id, dispatch, now())
            uow.commit()
            swept += 1
    if swept:
        log.warning("swept %d stalled reports back onto their queues", swept)
    return swept


def forget_old_idempotency_keys(uow_factory: UowFactory, now: Clock) -> int:
    with uow_factory() as uow:
        forgotten = uow.ledger.forget_keys_before(now() - timedelta(days=IDEMPOTENCY_KEY_DAYS))
        uow.commit()
    return forgotten
