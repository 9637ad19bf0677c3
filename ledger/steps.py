"""Running one step over many reports, each report in a transaction of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ledger.records import Report

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

Step = Callable[["UnitOfWork", Report], bool]


def each_locked(uow_factory: Callable[[], UnitOfWork], report_ids: list[str], step: Step) -> int:
    """Run `step` on each report, locked, in a transaction of its own; count those it moved.

    The ids were chosen in an earlier transaction, so `step` must check again that the
    report is still as it was chosen (another scheduler may have moved it since)."""
    moved = 0
    for report_id in report_ids:
        with uow_factory() as uow:
            report = uow.reports.get(report_id, lock=True)
            if report is not None and step(uow, report):
                uow.commit()
                moved += 1
    return moved
