"""Operators' actions on parked reports. Each records the operator and the reason."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.lifecycle import IllegalTransition, State
from relay.bootstrap import Container


@dataclass(frozen=True)
class ActionResult:
    report_id: str
    state: str | None  # the state it moved to, or None when nothing was done
    note: str = ""


def operator_actor(operator: str) -> str:
    return f"operator:{operator}"


def redrive(container: Container, report_id: str, *, operator: str, reason: str) -> ActionResult:
    """DEAD_LETTERED -> ROUTED with the routes in force now (or HELD if none serves it)."""
    moved = container.route(
        report_id,
        from_states=frozenset({State.DEAD_LETTERED}),
        actor=operator_actor(operator),
        reason=f"redrive: {reason}",
    )
    if moved is None:
        return ActionResult(report_id, None, "not dead-lettered (or unknown); nothing done")
    return ActionResult(report_id, moved.value)


def resolve_manually(
    container: Container, report_id: str, *, operator: str, reason: str
) -> ActionResult:
    """DEAD_LETTERED -> RESOLVED_MANUALLY: delivered by other means."""
    with container.uow() as uow:
        report = uow.ledger.get(report_id, lock=True)
        if report is None:
            return ActionResult(report_id, None, "no such report")
        try:
            moved = uow.ledger.move(
                report,
                State.RESOLVED_MANUALLY,
                at=container.now(),
                actor=operator_actor(operator),
                reason=reason,
                kind="resolved-manually",
            )
        except IllegalTransition:
            return ActionResult(report_id, None, f"is {report.state.value}, not DEAD_LETTERED")
        uow.commit()
    return ActionResult(report_id, moved.state.value)
