"""The delivery stage's timed work, run by the scheduler: release due retries, recover
attempts whose lease ran out, and fail fiks-io attempts whose receipt deadline passed.

Each job chooses report ids in one transaction and moves each report in its own
(`ledger.steps.each_locked`), checking again that it is still as chosen; the release moves
one recipient's reports in one transaction under its health row's lock
(`deliverers.release`). They are safe to run in several scheduler processes at once (row
locks and state checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from deliverers.base import TransientError
from deliverers.control import DeliveryControl
from deliverers.outcomes import apply_outcome
from deliverers.release import release_waiting
from ledger.lifecycle import State
from ledger.records import Report, StateKind
from ledger.steps import each_locked
from ledger.topology import deliver_dispatch
from ledger.uow import UnitOfWork

SCHEDULER = "scheduler"

UowFactory = Callable[[], UnitOfWork]
Clock = Callable[[], datetime]
ControlFor = Callable[[str], DeliveryControl]


def release_due_retries(uow_factory: UowFactory, now: Clock, control_for: ControlFor) -> int:
    """Ready RETRY_SCHEDULED reports go back to ROUTED and onto their queue, as far as each
    recipient's breaker and free slots allow; the others keep waiting, spending nothing.

    The fallback: a settled attempt releases the next report at once (`deliverers.stage`),
    so this tick matters for retries that come due and breakers that half-open on time."""
    with uow_factory() as uow:
        recipients = uow.queries.recipients_with_due_retries(now())
        uow.close_read()
    released = 0
    for recipient in recipients:
        control = control_for(recipient)
        with uow_factory() as uow:
            moved = release_waiting(uow, recipient, control, now(), actor=SCHEDULER)
            uow.commit()  # what it released, or only what it read
        released += moved
    return released


def recover_abandoned_attempts(uow_factory: UowFactory, now: Clock) -> int:
    """DELIVERING past its lease: the worker was lost (or hung). Deliver again, same bytes."""

    def recover(uow: UnitOfWork, report: Report, moment: datetime) -> None:
        assert report.recipient is not None
        assert report.vendor is not None
        health = uow.health.get(report.recipient, lock=True)
        if health.probe_report_id == report.id:
            uow.health.save(replace(health, probe_report_id=None, probe_started_at=None))
        uow.reports.move(
            report,
            State.ROUTED,
            at=moment,
            actor=SCHEDULER,
            reason=f"attempt {report.attempts} had no outcome before its lease ran out",
            kind=StateKind.ABANDONED,
            changes={"lease_until": None},
            dispatch=deliver_dispatch(report.vendor),
        )

    return _each_past_due(uow_factory, now, State.DELIVERING, "lease_until", recover)


def enforce_receipt_deadlines(
    uow_factory: UowFactory, now: Clock, control_for: ControlFor, jitter: Callable[[], float]
) -> int:
    """AWAITING_RECEIPT past its deadline counts as a failed attempt (the ledger keeps the
    deadline, not the broker)."""

    def fail(uow: UnitOfWork, report: Report, moment: datetime) -> None:
        assert report.recipient is not None
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

    return _each_past_due(uow_factory, now, State.AWAITING_RECEIPT, "receipt_due_at", fail)


def _each_past_due(
    uow_factory: UowFactory,
    now: Clock,
    state: State,
    deadline: str,
    step: Callable[[UnitOfWork, Report, datetime], None],
) -> int:
    """Run `step` on each report in `state` whose `deadline` column has passed, checking
    again, locked, that it still is (another scheduler may have moved it)."""
    with uow_factory() as uow:
        ids = uow.queries.past_due(state, deadline, now())
        uow.close_read()

    def checked(uow: UnitOfWork, report: Report) -> bool:
        moment = now()
        if not _due(report, state, getattr(report, deadline), moment):
            return False
        step(uow, report, moment)
        return True

    return each_locked(uow_factory, ids, checked)


def _due(report: Report, state: State, deadline: datetime | None, moment: datetime) -> bool:
    """Still in `state`, routed, and its deadline has come."""
    return (
        report.state is state
        and deadline is not None
        and deadline <= moment
        and report.recipient is not None
        and report.vendor is not None
    )
