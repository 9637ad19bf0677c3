"""The delivery stage: claim one attempt, push the report, record the outcome.

1. Claim (one transaction): a ROUTED report moves to DELIVERING under a lease, if its
   recipient's breaker admits it and the recipient has a free slot; otherwise it waits in
   the ledger (RETRY_SCHEDULED, no attempt spent).
2. Push, with no transaction open.
3. Settle (one transaction): only if the claim still holds (nothing moved the report since),
   record the outcome, and release the recipient's next waiting reports into the slot it
   frees (`deliverers.release`), so a backlog drains at the recipient's capacity.
4. After a success, for up to `follow_on_seconds` and while no other recipient's report
   has waited `OTHERS_WAIT_SECONDS` for a worker, the settlement claims the oldest of those
   for this worker instead of queueing it, and the worker goes back to 2 with it.
   A duplicate message finds the report moved on and does nothing;
   the case system's idempotency on the report id makes a duplicate push harmless.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from deliverers.base import Deliverer, Delivery, DeliveryError, PermanentError
from deliverers.body import delivery_body
from deliverers.breaker import Wait, admit
from deliverers.control import DeliveryControl
from deliverers.metrics import attempt_made
from deliverers.outcomes import DELIVERER, Outcome, apply_outcome
from deliverers.release import take_and_release
from ledger.database import once_more_if_lost
from ledger.digest import sha256_hex
from ledger.errors import ConcurrentChange
from ledger.lifecycle import State
from ledger.records import DeadLetterKind, Move, RecipientHealth, Report, StateKind
from ledger.uow import UnitOfWork

CAPACITY_WAIT_SECONDS = 1.0
# A worker going on with its recipient's backlog stops once another report has waited this
# long for a worker (`ledger.queries.ReportQueries.others_waiting`).
OTHERS_WAIT_SECONDS = 0.1


@dataclass(frozen=True)
class Claim:
    report: Report  # as moved to DELIVERING
    document: bytes


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


def delivered_bytes(report: Report, document: bytes) -> bytes:
    """What a case system was sent for this report; the document alone if it was never
    routed (resolved by hand before a recipient was known)."""
    if report.recipient is None or report.kommunenummer is None:
        return document
    return body_for(report, document)


def deliver_report(
    uow_factory: Callable[[], UnitOfWork],
    report_id: str,
    *,
    deliverer_for: Callable[[str], Deliverer | None],
    control_for: Callable[[str], DeliveryControl],
    now: Callable[[], datetime],
    jitter: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.monotonic,
) -> State | None:
    """Make one attempt if the report is ROUTED; returns the state it moved to, or None.

    After a successful attempt, for up to its recipient's `follow_on_seconds` and while no
    other recipient's report has waited long for a worker, the worker goes on with the
    recipient's next waiting report, claimed by the transaction that records the outcome
    (`_settle`)."""
    claimed = once_more_if_lost(
        lambda: claim_attempt(
            uow_factory(), report_id, control_for=control_for, now=now, jitter=jitter
        )
    )
    if not isinstance(claimed, Claim):
        return claimed
    assert claimed.report.recipient is not None
    control = control_for(claimed.report.recipient)
    until = clock() + control.follow_on_seconds
    first: State | None = None
    while True:
        result, detail = _push(claimed, deliverer_for, clock)
        go_on = not isinstance(result, DeliveryError) and clock() < until
        settled = once_more_if_lost(
            functools.partial(
                _settle,
                uow_factory,
                claimed.report,
                result,
                detail,
                control_for,
                now,
                jitter,
                go_on,
            )
        )
        if settled is None:
            return first  # the lease ran out and the report moved on without us
        state, taken = settled
        first = first or state
        if taken is None:
            return first
        claimed = taken


def _push(
    claimed: Claim, deliverer_for: Callable[[str], Deliverer | None], clock: Callable[[], float]
) -> tuple[Outcome, dict[str, int]]:
    """Push the claimed report, with no transaction open: the outcome and its detail."""
    report = claimed.report
    assert report.recipient is not None
    deliverer = deliverer_for(report.recipient)
    started = clock()
    result: Outcome
    if deliverer is None:
        result = PermanentError(f"recipient {report.recipient} is not in the routes file")
    else:
        body = body_for(report, claimed.document)
        try:
            delivery = Delivery(report.id, body, sha256_hex(body), report.meldingstype)
            result = deliverer.deliver(delivery)
        except DeliveryError as error:
            result = error
    duration = clock() - started
    attempt_made(report.recipient, result, duration)
    return result, {"attempt": report.attempts, "duration_ms": round(duration * 1000)}


def _settle(
    uow_factory: Callable[[], UnitOfWork],
    report: Report,
    result: Outcome,
    detail: dict[str, int],
    control_for: Callable[[str], DeliveryControl],
    now: Callable[[], datetime],
    jitter: Callable[[], float],
    go_on: bool,
) -> tuple[State, Claim | None] | None:
    """Record the attempt's outcome, if the claim still holds (else None), and fill the slot
    it frees in the same transaction: with `go_on` (and no other recipient's report waiting
    long for a worker), by claiming the recipient's next waiting report for this worker
    (returned), and by releasing the rest of its room onto the queue.
    """
    assert report.recipient is not None
    recipient = report.recipient
    with uow_factory() as uow:
        control = control_for(recipient)
        settled_at = now()
        try:
            # Not read again first: the move is guarded by the claim's sequence.
            moved, health = apply_outcome(
                uow, report, result, control=control, now=settled_at, jitter=jitter, detail=detail
            )
        except ConcurrentChange:
            return None
        # The slot this attempt held is free: the recipient's next waiting report takes
        # it now, in the same transaction, instead of at the scheduler's next tick.
        taken: Claim | State | None = None
        # It goes on until another report has waited a moment for a worker (one whose
        # recipient no worker serves, or one to route): a backlog drains without a message
        # each, and does not stand in front of anyone else's; two busy recipients both go on.
        waited = settled_at - timedelta(seconds=OTHERS_WAIT_SECONDS)
        following = take_and_release(
            uow,
            recipient,
            control,
            settled_at,
            actor=DELIVERER,
            health=health,
            others_since=waited if go_on else None,
        )
        if following is not None:
            waiting, release, sealed = following
            taken = _claim(
                uow,
                waiting,
                lambda: uow.reports.opened(waiting.id, sealed),
                control,
                settled_at,
                released=release,
            )
        uow.commit()
        return moved.state, taken if isinstance(taken, Claim) else None


def claim_attempt(
    uow: UnitOfWork,
    report_id: str,
    *,
    control_for: Callable[[str], DeliveryControl],
    now: Callable[[], datetime],
    jitter: Callable[[], float],
) -> Claim | State | None:
    """DELIVERING under a lease (a `Claim`), RETRY_SCHEDULED to wait, or None: not ours."""
    with uow:
        found = uow.reports.locked_with_document(report_id)  # one round trip for both
        if found is None:
            uow.close_read()
            return None
        report, read_document = found
        if report.state is not State.ROUTED or report.recipient is None:
            uow.close_read()  # a duplicate message: it moved on
            return None
        control = control_for(report.recipient)
        at = now()
        decision = admit(
            uow.health.get(report.recipient, lock=True), control.breaker, report.id, at
        )
        if isinstance(decision, Wait):
            spread = timedelta(seconds=jitter() * control.breaker.probe_wait_seconds)
            waited = _wait(uow, report, at, decision.until + spread, decision.reason, "breaker")
            uow.commit()
            return waited.state
        in_flight = uow.queries.count_for_recipient(report.recipient, [State.DELIVERING])
        if in_flight >= control.max_concurrent:
            until = at + timedelta(seconds=CAPACITY_WAIT_SECONDS * (0.5 + jitter()))
            reason = (
                f"{in_flight} deliveries to {report.recipient} in flight "
                f"(limit {control.max_concurrent})"
            )
            waited = _wait(uow, report, at, until, reason, "capacity")
            uow.commit()
            return waited.state
        probe = decision.health if decision.probe else None
        claimed = _claim(uow, report, read_document, control, at, probe=probe)
        uow.commit()
        return claimed


def _claim(
    uow: UnitOfWork,
    report: Report,
    read_document: Callable[[], bytes | None],
    control: DeliveryControl,
    at: datetime,
    *,
    probe: RecipientHealth | None = None,
    released: Move | None = None,
) -> Claim | State:
    """ROUTED (locked, admitted) -> DELIVERING under a lease, with its content to send; or
    DEAD_LETTERED if retention erased its content. In the caller's transaction. `probe`:
    the recipient's health with this attempt as its breaker's probe, saved if it is made.
    `released`: the report still waits, and this move (to ROUTED) is recorded first, in the
    same statement."""
    before = () if released is None else (released,)
    document = read_document()
    if document is None:  # retention erased it (a verified report found missing later)
        gone = Move(
            State.DEAD_LETTERED,
            "its content was erased by retention; it cannot be delivered again",
            DeadLetterKind.MISSING,
        )
        return uow.reports.move_through(report, (*before, gone), at=at, actor=DELIVERER).state
    if probe is not None:
        uow.health.save(probe)
    attempt = report.attempts + 1
    claim = Move(
        State.DELIVERING,
        detail={"attempt": attempt, **({"probe": True} if probe is not None else {})},
        changes={
            "attempts": attempt,
            "lease_until": at + timedelta(seconds=control.lease_seconds),
            "next_attempt_at": None,
        },
    )
    claimed = uow.reports.move_through(report, (*before, claim), at=at, actor=DELIVERER)
    return Claim(claimed, document)


def _wait(
    uow: UnitOfWork, report: Report, at: datetime, until: datetime, reason: str, cause: str
) -> Report:
    return uow.reports.move(
        report,
        State.RETRY_SCHEDULED,
        at=at,
        actor=DELIVERER,
        reason=f"waiting, no attempt spent: {reason}",
        kind=StateKind.WAITING,
        detail={"wait": cause},
        changes={"next_attempt_at": until},
    )
