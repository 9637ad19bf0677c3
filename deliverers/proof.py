"""Proof of delivery: read a delivered report back, and reconcile a recipient's list with the
ledger. A report the case system does not hold is MISSING and delivered again (same id,
same bytes); one it holds with another hash is dead-lettered as a content mismatch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from deliverers import metrics
from deliverers.base import Deliverer, DeliveryError, StoredCopy
from deliverers.fiks_io import Unsupported
from deliverers.outcomes import dead_letter, record
from ledger.errors import ConcurrentChange
from ledger.lifecycle import STORED, State
from ledger.records import DeadLetterKind, Report, StateKind
from ledger.topology import deliver_dispatch
from ledger.uow import UnitOfWork
from router.routes import ReceiptMode

log = logging.getLogger(__name__)

VERIFIER = "verifier"
RECONCILER = "reconciler"
MAX_MISSING = 3  # a case system that loses the same report this often needs a human
READ_BACK_THREADS = 8

UowFactory = Callable[[], UnitOfWork]
DelivererFor = Callable[[str], Deliverer | None]


@dataclass
class ReconcileResult:
    recipient: str
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    error: str | None = None


def about(report: Report, event: str) -> dict[str, str | None]:
    """The fields of a log line about a report (`extra=`), never its content; `state` is
    where the report is now."""
    return {
        "report_id": report.id,
        "recipient": report.recipient,
        "state": report.state.value,
        "event": event,
    }


def mark_missing(
    uow: UnitOfWork, report: Report, *, actor: str, reason: str, now: datetime
) -> Report:
    """DELIVERED/VERIFIED -> MISSING, then straight back to ROUTED to deliver it again,
    or to DEAD_LETTERED when the case system keeps losing it."""
    assert report.vendor is not None
    count = report.missing_count + 1
    missing = uow.reports.move(
        report,
        State.MISSING,
        at=now,
        actor=actor,
        reason=reason,
        kind=StateKind.MISSING,
        changes={"missing_count": count},
    )
    if count >= MAX_MISSING:
        lost = f"the case system lost this report {count} times after acknowledging it"
        return record(uow, missing, dead_letter(lost, DeadLetterKind.MISSING), at=now, actor=actor)
    return uow.reports.move(
        missing,
        State.ROUTED,
        at=now,
        actor=actor,
        reason="deliver again: same id, same bytes",
        changes={"routed_at": now, "attempts": 0, "next_attempt_at": None},
        dispatch=deliver_dispatch(missing.vendor or report.vendor),
    )


# Due reports read back a pass. A fuller backlog goes on at the lane's next pass, a tick
# at most (`relay.wiring.read_back_jobs`), not at once: reports that stay DELIVERED (legacy
# receipts) are due at every pass.
READ_BACK_BATCH = 500


class ReadBackPass(NamedTuple):
    """What a read-back pass did: how many reports moved, and when to look again."""

    moved: int
    # When the next report still DELIVERED (and not due at this pass) comes due; with
    # none, when one delivered now would.
    next_due: datetime


def verify_delivered(
    uow_factory: UowFactory,
    *,
    verify_delay_seconds: float,
    deliverer_for: DelivererFor,
    receipt_mode_for: Callable[[str], ReceiptMode],
    now: Callable[[], datetime],
    unverifiable: Collection[str] = (),
    batch: int = READ_BACK_BATCH,
) -> ReadBackPass:
    """Read back every report DELIVERED at least `verify_delay_seconds` ago (at most
    `batch`, oldest first), in parallel, and record what was found in one transaction; how
    many moved, and when the next report still DELIVERED comes due (asked in the same read).
    `unverifiable`: recipients whose reports stay DELIVERED (legacy receipts), left out of
    both, or their oldest would fill every batch and no other report be read back."""
    at, delay = now(), timedelta(seconds=verify_delay_seconds)
    cutoff = at - delay
    with uow_factory() as uow:
        due = uow.queries.reports_past_due(
            State.DELIVERED, "updated_at", cutoff, limit=batch, excluding=unverifiable
        )
        later = uow.queries.earliest_after(
            State.DELIVERED, "updated_at", cutoff, excluding=unverifiable
        )
        uow.close_read()
    next_due = (later or at) + delay  # none delivered: one delivered now
    if not due:
        return ReadBackPass(0, next_due)

    def look(report: Report) -> ReadBack | None:
        return read_back(report, deliverer_for=deliverer_for, receipt_mode_for=receipt_mode_for)

    with ThreadPoolExecutor(READ_BACK_THREADS, thread_name_prefix="read-back") as pool:
        found = [each for each in pool.map(look, due) if each is not None]
    return ReadBackPass(len(record_read_backs(uow_factory, found, now)), next_due)


def read_back_wait(next_due: datetime, now: datetime, shortest: float, longest: float) -> float:
    """Seconds until the read-back looks again: when the next delivery comes due, but not
    sooner than `shortest` (while deliveries flow, each pass reads back those that came due
    meanwhile together, not one each) nor later than `longest` (a read-back that failed is
    tried again then; and a worker's clock may run behind the scheduler's, so that what it
    delivers looks due late). Pure."""
    return min(max((next_due - now).total_seconds(), shortest), longest)


def verify_report(
    uow_factory: UowFactory,
    report_id: str,
    *,
    deliverer_for: DelivererFor,
    receipt_mode_for: Callable[[str], ReceiptMode],
    now: Callable[[], datetime],
) -> State | None:
    """Read one DELIVERED report back and record VERIFIED, MISSING or a content mismatch."""
    with uow_factory() as uow:
        report = uow.reports.get(report_id)
    if report is None:
        return None
    found = read_back(report, deliverer_for=deliverer_for, receipt_mode_for=receipt_mode_for)
    if found is None:
        return None
    moved = record_read_backs(uow_factory, [found], now)
    return moved[0] if moved else None


@dataclass(frozen=True)
class ReadBack:
    """What reading a DELIVERED report back found: its stored copy (None: not there), or,
    where the protocol has no read-back, why the receipt is the only proof there can be."""

    report: Report  # as read before the read-back
    copy: StoredCopy | None = None
    proof: str | None = None


def read_back(
    report: Report,
    *,
    deliverer_for: DelivererFor,
    receipt_mode_for: Callable[[str], ReceiptMode],
) -> ReadBack | None:
    """Ask the report's case system for its stored copy; None if there is nothing to record
    (not DELIVERED, unverifiable by design, or the read-back failed: tried again later)."""
    if report.state is not State.DELIVERED or report.recipient is None:
        return None
    if receipt_mode_for(report.recipient) is ReceiptMode.LEGACY:
        return None  # unverifiable by design; reconciliation and people watch these
    deliverer = deliverer_for(report.recipient)
    if deliverer is None:
        return None
    try:
        return ReadBack(report, copy=deliverer.read_back(report.id))
    except Unsupported:
        return ReadBack(
            report, proof="the receipt carried our sha256; the protocol has no read-back"
        )
    except DeliveryError as error:
        log.warning(
            "read-back of report %s failed (%s); will try again",
            report.id,
            error,
            extra=about(report, "read-back-failed"),
        )
        metrics.read_back(report.recipient, "error")
        return None


def record_read_backs(
    uow_factory: UowFactory, found: list[ReadBack], now: Callable[[], datetime]
) -> list[State]:
    """Record what each read-back found, in one transaction; the states moved to.

    The reports are not read again first: each move is guarded by the report's sequence as
    read before its read-back, so a report moved since (`ConcurrentChange`, nothing
    written) is left out and the others are recorded."""
    if not found:
        return []
    recorded: list[tuple[ReadBack, Report, str]] = []
    with uow_factory() as uow:
        at = now()
        for each in found:
            try:
                moved, result = _record_read_back(uow, each, at)
            except ConcurrentChange:
                continue  # moved on while we read it back
            recorded.append((each, moved, result))
        uow.commit()
    for each, _moved, result in recorded:
        report = each.report
        assert report.recipient is not None
        metrics.read_back(report.recipient, result)
        if result in ("missing", "mismatch"):  # the receipt said stored, with our hash
            metrics.false_receipt(report.recipient, (at - report.updated_at).total_seconds())
    return [moved.state for _, moved, _ in recorded]


def _record_read_back(uow: UnitOfWork, found: ReadBack, at: datetime) -> tuple[Report, str]:
    """Record one read-back in the caller's transaction: the moved report and the result
    for the metrics. The first move raises `ConcurrentChange` if the report moved since."""
    report, copy = found.report, found.copy
    if found.proof is not None:
        moved = uow.reports.move(report, State.VERIFIED, at=at, actor=VERIFIER, reason=found.proof)
        return moved, "receipt-only"
    if copy is None:
        moved = mark_missing(
            uow,
            report,
            actor=VERIFIER,
            reason="read-back: the case system does not have it",
            now=at,
        )
        log.error(
            "report %s acknowledged by %s but not stored",
            report.id,
            report.recipient,
            extra=about(moved, "false-receipt"),
        )
        return moved, "missing"
    if copy.sha256 != report.delivery_sha256:
        mismatch = dead_letter(
            "content mismatch", DeadLetterKind.CONTENT_MISMATCH, {"read_back": True}
        )
        moved = record(uow, report, mismatch, at=at, actor=VERIFIER)
        log.error(
            "report %s stored with another hash by %s",
            report.id,
            report.recipient,
            extra=about(moved, "content-mismatch"),
        )
        return moved, "mismatch"
    moved = uow.reports.move(
        report, State.VERIFIED, at=at, actor=VERIFIER, detail={"saksreferanse": copy.saksreferanse}
    )
    return moved, "verified"


def reconcile(
    uow_factory: UowFactory,
    recipients: Iterable[str],
    since: datetime,
    *,
    deliverer_for: DelivererFor,
    now: Callable[[], datetime],
) -> list[ReconcileResult]:
    """Reconcile each of `recipients` (those with a deliverer) since `since`."""
    results = []
    for recipient in sorted(recipients):
        deliverer = deliverer_for(recipient)
        if deliverer is not None:
            results.append(
                reconcile_recipient(uow_factory, recipient, since, deliverer=deliverer, now=now)
            )
    return results


def reconcile_recipient(
    uow_factory: UowFactory,
    recipient: str,
    since: datetime,
    *,
    deliverer: Deliverer,
    now: Callable[[], datetime],
) -> ReconcileResult:
    """Compare what the case system lists since `since` with what the ledger calls stored."""
    result = ReconcileResult(recipient)
    with uow_factory() as uow:
        claimed = uow.queries.stored_since(recipient, since)
    checked_at = now()
    try:
        listed = deliverer.list_since(since)
    except Unsupported as error:
        result.error = str(error)
        metrics.reconciled(recipient, "unsupported")
        return result
    except DeliveryError as error:
        result.error = f"could not list: {error}"
        metrics.reconciled(recipient, "error")
        return result
    result.checked = len(claimed)
    for report_id in sorted(set(claimed) - listed):
        with uow_factory() as uow:
            report = uow.reports.get(report_id, lock=True)
            if report is None or report.state not in STORED or report.updated_at > checked_at:
                continue
            receipt = receipt_at(uow, report)
            at = now()
            moved = mark_missing(
                uow,
                report,
                actor=RECONCILER,
                reason=f"reconciliation: not in the case system's list since {since.isoformat()}",
                now=at,
            )
            uow.commit()
        result.missing.append(report_id)
        metrics.false_receipt(recipient, (at - receipt).total_seconds())
        log.error(
            "report %s missing from %s's case system",
            report_id,
            recipient,
            extra=about(moved, "missing"),
        )
    metrics.reconciled(recipient, "missing" if result.missing else "ok")
    return result


def receipt_at(uow: UnitOfWork, report: Report) -> datetime:
    """When the receipt of a DELIVERED or VERIFIED report was recorded."""
    if report.state is State.DELIVERED:
        return report.updated_at
    delivered = [t.at for t in uow.reports.history(report.id) if t.to_state is State.DELIVERED]
    return delivered[-1] if delivered else report.updated_at
