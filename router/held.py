"""HELD reports, for operators: what is parked and why; asking for one to be routed again
(with today's routes, or to a recipient the operator chose); resolving one by hand.

An operator's request is recorded, not carried out, here: HELD -> HELD by the operator,
with their reason and choice, and a message to the routing queue. The worker that takes it
routes the report with the routes table it has in force (`router.stage`), so a request is
never decided with the operator's own view of the routes or of the secrets. Every action
is a transition with the operator as actor and their reason.

Metadata only (ids, numbers, states, reasons); never a report's content. No click, no
printing: the CLI (`relay held`) and a console can both use these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ledger.lifecycle import State
from ledger.records import Report, StateKind
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from router.choice import Choice

EVERY = 10_000_000  # no practical limit: an operator asking for all gets all
ROUTES_DECIDE = Choice()  # no recipient chosen: the routes in force decide


@dataclass(frozen=True)
class HeldReport:
    id: str
    kommunenummer: str  # as submitted
    bydelsnummer: str | None
    received_at: datetime
    held_at: datetime
    reason: str
    by: str  # who or what held it last
    requested: bool = False  # an operator's request to route it waits for a worker


class Outcome(StrEnum):
    ROUTED = "routed"
    STILL_HELD = "still-held"
    PENDING = "pending"  # requested; no worker has acted on it yet
    RESOLVED = "resolved"  # RESOLVED_MANUALLY: handled outside the pipeline
    NOT_HELD = "not-held"  # moved on before the operator acted: nothing written
    NO_SUCH_REPORT = "no-such-report"


@dataclass(frozen=True)
class Result:
    """What an action on one report did; `detail` is the recipient, the reason or the state.
    `sequence` is the transition that recorded a request (0: none was recorded)."""

    id: str
    outcome: Outcome
    detail: str
    sequence: int = 0


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
                    requested=report.state_kind == StateKind.REROUTE_REQUESTED,
                )
            )
    return held


def held_ids(uow_factory: Callable[[], UnitOfWork]) -> list[str]:
    with uow_factory() as uow:
        return [report.id for report in uow.queries.reports_in([State.HELD], limit=EVERY)]


def request_reroute(
    uow_factory: Callable[[], UnitOfWork],
    report_id: str,
    now: Callable[[], datetime],
    *,
    actor: str,
    reason: str | None,
    choice: Choice = ROUTES_DECIDE,
) -> Result:
    """Ask the workers to route a HELD report again: HELD -> HELD by `actor` with `reason`
    and `choice`, and a message to the routing queue, in one transaction. PENDING until a
    worker acts on it (`outcome`)."""
    with uow_factory() as uow:
        report = _still_held(uow, report_id)
        if isinstance(report, Result):
            return report
        moved = uow.reports.move(
            report,
            State.HELD,
            at=now(),
            actor=actor,
            reason=reason,
            kind=StateKind.REROUTE_REQUESTED,
            detail=choice.as_detail(),
            dispatch=ROUTE,
        )
        uow.commit()
    return Result(report_id, Outcome.PENDING, choice.recipient or "", moved.last_sequence)


def outcome(uow_factory: Callable[[], UnitOfWork], requested: Result) -> Result:
    """What became of a PENDING request: the transition that followed it says."""
    return outcomes(uow_factory, [requested])[0]


def outcomes(uow_factory: Callable[[], UnitOfWork], requested: Sequence[Result]) -> list[Result]:
    """`outcome` of each, in one transaction."""
    with uow_factory() as uow:
        return [_outcome(uow, result) for result in requested]


def _outcome(uow: UnitOfWork, requested: Result) -> Result:
    if requested.outcome is not Outcome.PENDING:
        return requested
    after = [t for t in uow.reports.history(requested.id) if t.sequence > requested.sequence]
    if not after:
        return requested
    acted = after[0]
    if acted.to_state is State.ROUTED:
        return replace(requested, outcome=Outcome.ROUTED, detail=_recipient(acted.detail))
    if acted.to_state is State.HELD:
        return replace(requested, outcome=Outcome.STILL_HELD, detail=acted.reason or "")
    return replace(requested, outcome=Outcome.NOT_HELD, detail=acted.to_state.value)


def wait_for_workers(
    uow_factory: Callable[[], UnitOfWork],
    requested: Sequence[Result],
    *,
    timeout_seconds: float,
    on_progress: Callable[[int], None] = lambda done: None,
    poll_seconds: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Result]:
    """Each request's outcome once a worker acted on it, or PENDING after `timeout_seconds`.
    `on_progress` is told how many have an outcome, after every look."""
    results = list(requested)
    deadline = clock() + timeout_seconds
    while True:
        results = outcomes(uow_factory, results)
        waiting = sum(1 for result in results if result.outcome is Outcome.PENDING)
        on_progress(len(results) - waiting)
        if not waiting or clock() >= deadline:
            return results
        sleep(poll_seconds)


def resolve_held(
    uow_factory: Callable[[], UnitOfWork],
    report_id: str,
    now: Callable[[], datetime],
    *,
    actor: str,
    reason: str,
) -> Result:
    """HELD -> RESOLVED_MANUALLY: an operator handled the report outside the pipeline."""
    with uow_factory() as uow:
        report = _still_held(uow, report_id)
        if isinstance(report, Result):
            return report
        uow.reports.move(
            report,
            State.RESOLVED_MANUALLY,
            at=now(),
            actor=actor,
            reason=reason,
            kind=StateKind.RESOLVED_MANUALLY,
        )
        uow.commit()
    return Result(report_id, Outcome.RESOLVED, State.RESOLVED_MANUALLY.value)


def _still_held(uow: UnitOfWork, report_id: str) -> Report | Result:
    """The report, locked, if it is still HELD; else what the operator's action came to."""
    report = uow.reports.get(report_id, lock=True)
    if report is None:
        return Result(report_id, Outcome.NO_SUCH_REPORT, "")
    if report.state is not State.HELD:
        return Result(report_id, Outcome.NOT_HELD, report.state.value)
    return report


def _recipient(detail: Mapping[str, Any] | None) -> str:
    return str((detail or {}).get("recipient", ""))
