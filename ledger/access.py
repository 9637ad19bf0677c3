"""A person reading a report's content: the only way, and always recorded first.

`read_content` writes who, when and why to the append-only `content_accesses` table in the
same transaction that reads the content, so no content is shown without its record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ledger.contents import Access
from ledger.records import Report

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork


@dataclass(frozen=True)
class Disclosure:
    report: Report
    document: bytes | None  # None: erased by retention (see `report.content_erased_at`)


def read_content(
    uow_factory: Callable[[], UnitOfWork],
    report_id: str,
    *,
    operator: str,
    reason: str,
    now: Callable[[], datetime],
) -> Disclosure | None:
    """The report's content, with the access recorded; None if there is no such report."""
    if not operator.strip() or not reason.strip():
        raise ValueError("reading a report's content needs an operator and a reason")
    with uow_factory() as uow:
        report = uow.reports.get(report_id)
        if report is None:
            return None
        document = uow.reports.document(report_id)
        if document is None:
            return Disclosure(report, None)
        uow.contents.record_access(Access(report_id, now(), operator, reason))
        uow.commit()
    return Disclosure(report, document)
