"""The routing stage: move a RECEIVED (or re-routed) report to ROUTED or HELD."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ledger.lifecycle import State
from ledger.topology import deliver_dispatch
from ledger.uow import UnitOfWork
from router.registry import Registry, default_registry
from router.resolve import Held, Routed, resolve
from router.routes import RouteTable

ROUTER = "router"


def route_report(
    uow: UnitOfWork,
    table: RouteTable,
    report_id: str,
    now: Callable[[], datetime],
    *,
    from_states: frozenset[State] = frozenset({State.RECEIVED}),
    actor: str = ROUTER,
    reason: str | None = None,
    registry: Registry | None = None,
) -> State | None:
    """Route one report if it is in one of `from_states`; returns its new state, or None.

    A report in any other state has moved on (a duplicate message): nothing is written.
    `reason` is the actor's (an operator's) reason: on ROUTED it is the transition's
    reason; on HELD the resolver's reason is, and the actor's is kept in the detail.
    The registry defaults to the packaged one.
    """
    registry = default_registry() if registry is None else registry
    with uow:
        report = uow.reports.get(report_id, lock=True)
        if report is None or report.state not in from_states:
            return None
        decision = resolve(
            report.submitted_kommunenummer, report.submitted_bydelsnummer, registry, table
        )
        at = now()
        match decision:
            case Routed():
                moved = uow.reports.move(
                    report,
                    State.ROUTED,
                    at=at,
                    actor=actor,
                    reason=reason,
                    detail=_routed_detail(decision),
                    changes={
                        "recipient": decision.recipient,
                        "vendor": decision.vendor,
                        "kommunenummer": decision.kommunenummer,
                        "bydelsnummer": decision.bydelsnummer,
                        "routed_at": at,
                        "attempts": 0,
                        "next_attempt_at": None,
                    },
                    dispatch=deliver_dispatch(decision.vendor),
                )
            case Held():
                moved = uow.reports.move(
                    report,
                    State.HELD,
                    at=at,
                    actor=actor,
                    reason=decision.reason,
                    detail={"note": reason} if reason else None,
                )
        uow.commit()
        return moved.state


def _routed_detail(decision: Routed) -> dict[str, str]:
    detail = {"recipient": decision.recipient, "kommunenummer": decision.kommunenummer}
    if decision.bydelsnummer:
        detail["bydelsnummer"] = decision.bydelsnummer
    return detail
