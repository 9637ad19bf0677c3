"""The routing stage: move a RECEIVED (or re-routed) report to ROUTED or HELD.

A HELD report an operator asked to route again (`router.held.request_reroute`) is routed
here too, by the worker that takes its message, with that worker's routes table: the
operator's request names the recipient they chose (or none: the routes decide), and the
transition this stage records says whose request it acted on and which table it used.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ledger.lifecycle import State
from ledger.records import Move, Report, StateKind, Transition
from ledger.topology import deliver_dispatch
from ledger.uow import UnitOfWork
from router.choice import Choice, decide
from router.registry import Registry, default_registry
from router.resolve import Held, Routed
from router.routes import RouteTable

ROUTER = "router"

# Asked once a report is routed: why it should wait in the ledger rather than go onto its
# vendor's queue now (its recipient's breaker is open, or it has enough on their way), or
# None. Given by the composition root (`deliverers.release.room_at_routing`).
Admission = Callable[[UnitOfWork, str, datetime], str | None]


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
    act_on_requests: bool = False,
    admission: Admission | None = None,
) -> State | None:
    """Route one report if it is in one of `from_states` (or, with `act_on_requests`, HELD
    with an operator's request to route it); returns its new state, or None.

    A report in any other state has moved on (a duplicate message): nothing is written.
    `reason` is the actor's (an operator's) reason: on ROUTED it is the transition's
    reason; on HELD the resolver's reason is, and the actor's is kept in the detail.
    The registry defaults to the packaged one. With `admission`, a routed report its
    recipient has no room for waits in the ledger (RETRY_SCHEDULED, no attempt spent) until
    a settlement, the breaker's check or the tick releases it (`deliverers.release`).
    """
    registry = default_registry() if registry is None else registry
    with uow:
        report = uow.reports.get(report_id, lock=True)
        request = pending_request(uow, report) if act_on_requests and report else None
        if report is None or (request is None and report.state not in from_states):
            uow.close_read()
            return None
        moved = _route(uow, table, report, now(), registry, request, actor, reason, admission)
        uow.commit()
        return moved.state


def route_received_in_turn(
    uow_factory: Callable[[], UnitOfWork],
    table: RouteTable,
    now: Callable[[], datetime],
    *,
    limit: int,
    registry: Registry | None = None,
    admission: Admission | None = None,
) -> int:
    """Route up to `limit` RECEIVED reports, the municipalities taking turns (the oldest of
    each, then the next of each), skipping any another worker holds; how many were routed.

    A worker that took one report's message routes others along with it: a burst's
    messages stand in the route queue in front of every later report, each costing a task,
    while routing one more report is a few statements. Taking turns, a burst for one
    municipality does not keep another's new report waiting behind it. They are routed in
    one transaction (one commit, not one each); the messages of reports routed this way
    find them moved on and do nothing.
    """
    registry = default_registry() if registry is None else registry
    with uow_factory() as uow:
        candidates = uow.reports.received_in_turn(limit)
        if not candidates:
            uow.close_read()
            return 0
        reports = uow.reports.lock_received(candidates)
        for report in reports:
            _route(uow, table, report, now(), registry, None, ROUTER, None, admission)
        uow.commit()
    return len(reports)


def route_while_full(
    uow_factory: Callable[[], UnitOfWork],
    table: RouteTable,
    now: Callable[[], datetime],
    *,
    limit: int,
    admission_for: Callable[[], Admission],
    until: float,
    clock: Callable[[], float],
    stop: Callable[[], bool],
) -> int:
    """`route_received_in_turn` batch after batch while each batch is full (a burst), until
    `clock()` reaches `until` or `stop()` says someone else waits for the worker; how many
    were routed. `admission_for` makes each batch's admission (one per transaction)."""
    total = 0
    while True:
        routed = route_received_in_turn(
            uow_factory, table, now, limit=limit, admission=admission_for()
        )
        total += routed
        if routed < limit or clock() >= until or stop():
            return total


def _route(
    uow: UnitOfWork,
    table: RouteTable,
    report: Report,
    at: datetime,
    registry: Registry,
    request: Transition | None,
    actor: str,
    reason: str | None,
    admission: Admission | None,
) -> Report:
    """Record where the locked `report` goes (ROUTED, maybe waiting) or why it cannot
    (HELD), in the caller's transaction."""
    choice = (Choice.from_detail(request.detail) if request else None) or Choice()
    decision = decide(
        report.submitted_kommunenummer,
        report.submitted_bydelsnummer,
        choice,
        registry,
        table,
    )
    extra: dict[str, Any] = {}
    if request is not None:
        extra = {"requested_by": request.actor, "routes_sha256": table.sha256}
        reason = _acting_on(request)
    match decision:
        case Routed():
            wait = admission(uow, decision.recipient, at) if admission else None
            routed = Move(
                State.ROUTED,
                reason,
                detail={**_routed_detail(decision), **extra},
                changes={
                    "recipient": decision.recipient,
                    "vendor": decision.vendor,
                    "kommunenummer": decision.kommunenummer,
                    "bydelsnummer": decision.bydelsnummer,
                    "routed_at": at,
                    "attempts": 0,
                    "next_attempt_at": None,
                },
            )
            if not wait:
                dispatch = deliver_dispatch(decision.vendor)
                return uow.reports.move_through(
                    report, (routed,), at=at, actor=actor, dispatch=dispatch
                )
            parked = Move(
                State.RETRY_SCHEDULED,
                f"waiting, no attempt spent: {wait}",
                StateKind.WAITING,
                detail={"wait": "routing"},
                changes={"next_attempt_at": at},
            )
            # Routed and parked in one statement: a burst is mostly parked.
            return uow.reports.move_through(report, (routed, parked), at=at, actor=actor)
        case Held():
            return uow.reports.move(
                report,
                State.HELD,
                at=at,
                actor=actor,
                reason=decision.reason,
                detail={**({"note": reason} if reason else {}), **extra} or None,
            )


def pending_request(uow: UnitOfWork, report: Report) -> Transition | None:
    """The operator's request to route this HELD report, if no worker has acted on it yet."""
    if report.state is not State.HELD or report.state_kind != StateKind.REROUTE_REQUESTED:
        return None
    return uow.reports.history(report.id)[-1]


def _acting_on(request: Transition) -> str:
    asked = f"as {request.actor} asked"
    return f"{asked}: {request.reason}" if request.reason else asked


def _routed_detail(decision: Routed) -> dict[str, str]:
    detail = {"recipient": decision.recipient, "kommunenummer": decision.kommunenummer}
    if decision.bydelsnummer:
        detail["bydelsnummer"] = decision.bydelsnummer
    return detail
