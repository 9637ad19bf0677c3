"""HELD reports, for operators: what is parked and why, and re-routing with today's routes.

Metadata only (ids, numbers, states, reasons); never a report's content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from router.registry import Registry
from router.routes import RouteTable
from router.stage import route_report

EVERY = 10_000_000  # no practical limit: an operator asking for all gets all


@dataclass(frozen=True)
class HeldReport:
    id: str
    kommunenummer: str  # as submitted
    bydelsnummer: str | None
    received_at: datetime
    held_at: datetime
    reason: str
    by: str  # who or what held it last


class Outcome(StrEnum):
    ROUTED = "routed"
    STILL_HELD = "still-held"
    NOT_HELD = "not-held"  # moved on before the operator acted: nothing written
    NO_SUCH_REPORT = "no-such-report"


@dataclass(frozen=True)
class Rerouted:
    """What re-routing one report did; `detail` is the recipient, the reason or the state."""

    id: str
    outcome: Outcome
    detail: str


def held_reports(uow_factory: Callable[[], UnitOfWork]) -> list[HeldReport]:
    """Every HELD report, longest held first, with the reason it was held last."""
    with uow_factory() as uow:
        reports = uow.queries.reports_in([State.HELD], limit=EVERY)
        held = []
        for report in reports:
            last = uow.reports.history(report.id)[-1]
            held.append(
                HeldReport(
                    id=report.id,
                    kommunenummer=report.submitted_kommunenummer,
                    bydelsnummer=report.submitted_bydelsnummer,
                    received_at=report.received_at,
                    held_at=last.at,
                    reason=last.reason or "",
                    by=last.actor,
                )
            )
    return held


def held_ids(uow_factory: Callable[[], UnitOfWork]) -> list[str]:
    with uow_factory() as uow:
        return [report.id for report in uow.queries.reports_in([State.HELD], limit=EVERY)]


def reroute(
    uow_factory: Callable[[], UnitOfWork],
    table: RouteTable,
    report_id: str,
    now: Callable[[], datetime],
    *,
    actor: str,
    reason: str | None = None,
    registry: Registry | None = None,
) -> Rerouted:
    """Route one HELD report with `table`: HELD -> ROUTED, or HELD -> HELD with the new reason.

    Each transition records `actor` (an operator) and, if given, the operator's reason.
    """
    state = route_report(
        uow_factory(),
        table,
        report_id,
        now,
        from_states=frozenset({State.HELD}),
        actor=actor,
        reason=reason,
        registry=registry,
    )
    with uow_factory() as uow:
        report = uow.reports.get(report_id)
        if report is None:
            return Rerouted(report_id, Outcome.NO_SUCH_REPORT, "")
        if state is None:
            return Rerouted(report_id, Outcome.NOT_HELD, report.state.value)
        if state is State.ROUTED:
            return Rerouted(report_id, Outcome.ROUTED, report.recipient or "")
        reason = uow.reports.history(report_id)[-1].reason or ""
        return Rerouted(report_id, Outcome.STILL_HELD, reason)
