"""What the console shows of reports: one report's whereabouts, full history and hash
chain; the dead letters and HELD reports, filtered; and the recipients an operator may
choose for a HELD one (`router.choice`). Metadata only: never a report's content (the
console's units of work have no content keys)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.chain import chain_break
from ledger.lifecycle import State
from ledger.records import DeadLetterKind, Report, StateKind, Transition
from ledger.report_ids import full_report_id
from ledger.uow import UnitOfWork
from router.choice import places, served_place
from router.held import HeldReport, held_reports
from router.registry import Registry
from router.routes import RouteTable

LIMIT = 500  # rows a list shows
ATTEMPT = ("attempt", "status_code", "error", "duration_ms")


@dataclass(frozen=True)
class HistoryRow:
    transition: Transition
    attempt: Any
    outcome: str  # the status code or error of an attempt
    duration_ms: Any
    notes: str  # the rest of its detail: recipient, the operator's choice, …


@dataclass(frozen=True)
class ReportPage:
    report: Report
    history: list[HistoryRow]
    where: str
    chain_intact: bool
    chain: str

    @property
    def reroute_pending(self) -> bool:
        return (
            self.report.state is State.HELD
            and self.report.state_kind == StateKind.REROUTE_REQUESTED
        )


def find_report(uow_factory: Callable[[], UnitOfWork], given: str) -> str:
    """The report id `given` names (whole, or a unique prefix); raises `ReportIdError`."""
    with uow_factory() as uow:
        return full_report_id(
            given, lambda prefix, limit: uow.queries.ids_starting_with(prefix, limit=limit)
        )


def report_page(uow_factory: Callable[[], UnitOfWork], report_id: str) -> ReportPage | None:
    with uow_factory() as uow:
        report = uow.reports.get(report_id)
        if report is None:
            return None
        transitions = uow.reports.history(report_id)
    broken = chain_break(report_id, transitions, report.last_sequence, report.last_hash)
    if broken is None:
        chain = f"intact: {len(transitions)} links, head {report.last_hash[:16]}…"
    else:
        chain = f"BROKEN at transition {broken.sequence}: {broken.reason}"
    history = [history_row(t) for t in transitions]
    return ReportPage(report, history, where_it_is(report), broken is None, chain)


def history_row(transition: Transition) -> HistoryRow:
    detail = dict(transition.detail or {})
    attempt = {key: detail.pop(key, None) for key in ATTEMPT}
    outcome = attempt["status_code"] or attempt["error"] or ""
    notes = ", ".join(f"{key}: {_plain(value)}" for key, value in sorted(detail.items()))
    return HistoryRow(transition, attempt["attempt"], str(outcome), attempt["duration_ms"], notes)


def _plain(value: Any) -> str:
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def where_it_is(report: Report) -> str:
    """One sentence for people: where the report is and what it waits for."""
    recipient = report.recipient or "no recipient"
    match report.state:
        case State.RECEIVED:
            return "Received; waiting to be routed."
        case State.HELD:
            if report.state_kind == StateKind.REROUTE_REQUESTED:
                return "Held; an operator asked to route it again, and no worker has acted yet."
            return f"Held: no route was found ({report.state_reason}). A person decides."
        case State.ROUTED:
            return f"Routed to {recipient}; waiting for a delivery attempt."
        case State.DELIVERING:
            return f"Being delivered to {recipient} (attempt {report.attempts})."
        case State.AWAITING_RECEIPT:
            return f"Handed to {recipient}'s mailbox; waiting for its receipt."
        case State.RETRY_SCHEDULED:
            when = report.next_attempt_at.isoformat() if report.next_attempt_at else "soon"
            return f"Waiting to be delivered to {recipient} again at {when}."
        case State.DELIVERED:
            return f"Delivered to {recipient}; waiting to be read back and verified."
        case State.VERIFIED:
            return f"Verified: stored by {recipient} (saksreferanse {report.saksreferanse})."
        case State.MISSING:
            return f"Missing: {recipient} acknowledged it but no longer has it; sent again."
        case State.DEAD_LETTERED:
            kind = report.state_kind or "dead letter"
            reason = report.state_reason
            return f"Dead-lettered ({kind}) at {recipient}: {reason}. A person decides."
        case State.RESOLVED_MANUALLY:
            return "Resolved by hand: handled outside the pipeline."
    return report.state.value


@dataclass(frozen=True)
class DeadLetters:
    reports: list[Report]
    total: int
    recipients: list[str]  # every recipient with dead letters, for the filter
    kinds: list[str]


def dead_letters(
    uow_factory: Callable[[], UnitOfWork], recipient: str | None, kind: DeadLetterKind | None
) -> DeadLetters:
    with uow_factory() as uow:
        every = uow.summary.dead_letters()
        reports = uow.queries.reports_in(
            [State.DEAD_LETTERED], recipient=recipient, kind=kind, limit=LIMIT
        )
    total = sum(
        count
        for (r, k), count in every.items()
        if (recipient is None or r == recipient) and (kind is None or k == kind.value)
    )
    recipients = sorted({r for r, _ in every if r})
    return DeadLetters(reports, total, recipients, [k.value for k in DeadLetterKind])


@dataclass(frozen=True)
class HeldList:
    reports: list[HeldReport]
    total: int
    reasons: list[tuple[str, int]]  # every reason held for, with its count, most first


def held(uow_factory: Callable[[], UnitOfWork], reason: str | None) -> HeldList:
    every = held_reports(uow_factory)
    reasons = Counter(_held_reason(report) for report in every).most_common()
    chosen = [r for r in every if reason is None or _held_reason(r) == reason]
    return HeldList(chosen[:LIMIT], len(chosen), reasons)


def _held_reason(report: HeldReport) -> str:
    return "reroute requested" if report.requested else report.reason


@dataclass(frozen=True)
class Choices:
    places: tuple[str, ...]  # where the report's number is today
    serving: list[tuple[str, str]]  # (id, name) of recipients serving one of them
    others: list[tuple[str, str]]  # every other recipient (a forced choice)


def choices(kommunenummer: str, table: RouteTable, registry: Registry) -> Choices:
    numbers = places(kommunenummer, registry)
    serving: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    for recipient in sorted(table.recipients.values(), key=lambda r: r.id):
        pair = (recipient.id, recipient.name)
        (serving if served_place(recipient, numbers) is not None else others).append(pair)
    return Choices(numbers, serving, others)
