"""Operators' actions on dead letters: send again (redrive) or mark as handled by hand.

Each records the operator and the reason in the ledger. Metadata only, never content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ledger.lifecycle import State
from ledger.records import StateKind
from ledger.uow import UnitOfWork
from router.routes import RouteTable
from router.stage import route_report


@dataclass(frozen=True)
class ActionResult:
    report_id: str
    state: str | None  # the state it moved to, or None when nothing was done
    note: str = ""


def operator_actor(operator: str) -> str:
    return f"operator:{operator}"


def redrive(
    uow_factory: Callable[[], UnitOfWork],
    table: RouteTable,
    report_id: str,
    now: Callable[[], datetime],
    *,
    operator: str,
    reason: str,
) -> ActionResult:
    """DEAD_LETTERED -> ROUTED with the routes in `table` (or HELD if none serves it)."""
    moved = route_report(
        uow_factory(),
        table,
        report_id,
        now,
        from_states=frozenset({State.DEAD_LETTERED}),
        actor=operator_actor(operator),
        reason=f"redrive: {reason}",
    )
    if moved is None:
        return ActionResult(report_id, None, "not dead-lettered (or unknown); nothing done")
    return ActionResult(report_id, moved.value)


def resolve_manually(
    uow_factory: Callable[[], UnitOfWork],
    report_id: str,
    now: Callable[[], datetime],
    *,
    operator: str,
    reason: str,
) -> ActionResult:
    """DEAD_LETTERED -> RESOLVED_MANUALLY: delivered by other means."""
    with uow_factory() as uow:
        report = uow.reports.get(report_id, lock=True)
        if report is None:
            return ActionResult(report_id, None, "no such report")
        # Checked here, not left to the lifecycle: RESOLVED_MANUALLY may move to itself (an
        # erasure) and HELD to RESOLVED_MANUALLY (`relay held resolve`).
        if report.state is not State.DEAD_LETTERED:
            hint = " (relay held resolve)" if report.state is State.HELD else ""
            return ActionResult(
                report_id, None, f"is {report.state.value}, not DEAD_LETTERED{hint}"
            )
        moved = uow.reports.move(
            report,
            State.RESOLVED_MANUALLY,
            at=now(),
            actor=operator_actor(operator),
            reason=reason,
            kind=StateKind.RESOLVED_MANUALLY,
        )
        uow.commit()
    return ActionResult(report_id, moved.state.value)
