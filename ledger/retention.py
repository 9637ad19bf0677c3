"""Retention: a report's content is erased once it has been VERIFIED or RESOLVED_MANUALLY
for its retention period; the ledger keeps its metadata, its whole history and the SHA-256
and size of what was delivered, and records the erasure in the report's chain (a move to
the state it is in, by `retention`). Reports in any other state keep their content: held,
dead-lettered and not yet verified ones may still have to be delivered.

`erase_due` is the job behind the scheduler's `retention` and `relay retention run`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ledger.content_crypto import ContentUnreadable
from ledger.digest import sha256_hex
from ledger.lifecycle import ERASABLE
from ledger.records import Report

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

RETENTION = "retention"
BATCH = 200


@dataclass(frozen=True)
class Erasure:
    report_id: str
    state: str
    final_since: datetime
    sha256: str | None = None  # of the bytes delivered, as recorded with the erasure
    size: int | None = None
    erased: bool = False  # False in a dry run, or when it could not be erased (see `note`)
    note: str = ""


def is_due(report: Report, cutoff: datetime) -> bool:
    """In a final state since before `cutoff`, its content not yet erased."""
    return (
        report.state in ERASABLE
        and report.content_erased_at is None
        and report.updated_at <= cutoff
    )


def erase_due(
    uow_factory: Callable[[], UnitOfWork],
    *,
    retention_days: float,
    now: Callable[[], datetime],
    delivered: Callable[[Report, bytes], bytes],
    dry_run: bool = False,
    limit: int = 10_000,
) -> list[Erasure]:
    """Erase (or, with `dry_run`, list) the content of every report past its time.

    `delivered(report, document)` gives the bytes that were delivered for it, whose SHA-256
    and size the erasure records. Each report is erased in a transaction of its own."""
    at = now()
    cutoff = at - timedelta(days=retention_days)
    with uow_factory() as uow:
        due = uow.contents.due_for_erasure(cutoff, limit=limit)
    erasures = []
    for report_id in due:
        with uow_factory() as uow:
            report = uow.reports.get(report_id, lock=not dry_run)
            if report is None or not is_due(report, cutoff):
                continue  # moved on (reconciliation found it missing) since it was chosen
            if dry_run:
                erasures.append(Erasure(report.id, report.state.value, report.updated_at))
                continue
            erasures.append(_erase(uow, report, at, retention_days, delivered))
            if erasures[-1].erased:
                uow.commit()
    erased = sum(1 for erasure in erasures if erasure.erased)
    if erased:
        log.info("retention erased the content of %d reports", erased)
    return erasures


def _erase(
    uow: UnitOfWork,
    report: Report,
    at: datetime,
    retention_days: float,
    delivered: Callable[[Report, bytes], bytes],
) -> Erasure:
    chosen = Erasure(report.id, report.state.value, report.updated_at)
    try:
        document = uow.reports.document(report.id)
    except ContentUnreadable as error:
        log.error(
            "retention cannot erase report %s: %s",
            report.id,
            error,
            extra={"report_id": report.id, "state": report.state.value, "event": "not-erased"},
        )
        return Erasure(**{**vars(chosen), "note": str(error)})
    if document is None:
        return Erasure(**{**vars(chosen), "note": "no content"})
    body = delivered(report, document)
    digest = sha256_hex(body)
    if report.delivery_sha256 is not None and digest != report.delivery_sha256:
        note = "its content does not hash to what was delivered; kept for a person to look at"
        log.error(
            "retention did not erase report %s: %s",
            report.id,
            note,
            extra={"report_id": report.id, "state": report.state.value, "event": "not-erased"},
        )
        return Erasure(**{**vars(chosen), "note": note})
    uow.reports.erase_content(
        report,
        at=at,
        actor=RETENTION,
        reason=f"content erased {retention_days:g} days after {report.state.value}",
        detail={"delivered_sha256": digest, "delivered_size": len(body)},
    )
    return Erasure(**{**vars(chosen), "sha256": digest, "size": len(body), "erased": True})
