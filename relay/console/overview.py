"""What the overview page shows: per recipient, the backlog by state, the oldest report not
yet verified, the last success, the breaker, dead letters, overdue and (legacy fiks-io)
unverifiable reports, and the totals. From the grouped, indexed queries the metrics use
(`ledger.summary`), in one transaction. Metadata only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ledger.alerts import OverdueLimits
from ledger.lifecycle import State
from ledger.records import RecipientHealth
from ledger.uow import UnitOfWork

# Not yet VERIFIED nor resolved, in the order a report moves through them.
BACKLOG = (
    State.RECEIVED,
    State.HELD,
    State.ROUTED,
    State.DELIVERING,
    State.AWAITING_RECEIPT,
    State.RETRY_SCHEDULED,
    State.DELIVERED,
    State.MISSING,
    State.DEAD_LETTERED,
)


@dataclass
class RecipientRow:
    recipient: str | None  # None: reports not routed (yet)
    backlog: dict[State, int] = field(default_factory=dict)
    verified: int = 0
    oldest_unverified: datetime | None = None
    last_success: datetime | None = None
    breaker: str = "closed"  # closed, open, half-open
    breaker_open_until: datetime | None = None
    dead_letters: dict[str, int] = field(default_factory=dict)  # kind -> count
    overdue: int = 0
    unverifiable: int | None = None  # legacy receipts: DELIVERED for good; None: not legacy
    in_routes: bool = True

    @property
    def unfinished(self) -> int:
        return sum(self.backlog.values())

    @property
    def dead(self) -> int:
        return sum(self.dead_letters.values())


@dataclass(frozen=True)
class Overview:
    rows: list[RecipientRow]
    totals: RecipientRow


def overview(
    uow_factory: Callable[[], UnitOfWork],
    now: datetime,
    limits: OverdueLimits,
    routed: Iterable[str],
) -> Overview:
    """Every recipient in the routes (`routed`) or in the ledger, and a row for reports not
    routed, when there are any."""
    with uow_factory() as uow:
        summary = uow.summary
        by_state = summary.reports_by_state()
        oldest = summary.oldest_unfinished()
        overdue = summary.overdue(limits, now)
        dead = summary.dead_letters()
        health = {h.recipient: h for h in uow.health.all()}
    routed = set(routed)
    seen = {recipient for _, recipient in by_state if recipient is not None}
    rows = []
    for recipient in [None, *sorted(seen | routed)]:
        row = RecipientRow(recipient, in_routes=recipient is None or recipient in routed)
        row.backlog = {state: by_state.get((state, recipient), 0) for state in BACKLOG}
        row.verified = by_state.get((State.VERIFIED, recipient), 0)
        row.oldest_unverified = oldest.get(recipient)
        row.overdue = overdue.get(recipient, 0)
        mine = sorted((kind or "-", n) for (r, kind), n in dead.items() if r == recipient)
        row.dead_letters = dict(mine)
        if recipient is not None:
            _breaker(row, health.get(recipient), now)
            if recipient in limits.unverifiable:
                row.unverifiable = row.backlog[State.DELIVERED]
        if recipient is not None or row.unfinished:
            rows.append(row)
    return Overview(rows, _totals(rows))


def _breaker(row: RecipientRow, health: RecipientHealth | None, now: datetime) -> None:
    if health is None:
        return
    row.last_success = health.last_success_at
    if health.open_until is not None:
        row.breaker = "open" if now < health.open_until else "half-open"
        row.breaker_open_until = health.open_until


def _totals(rows: list[RecipientRow]) -> RecipientRow:
    totals = RecipientRow("all", breaker="")
    totals.backlog = {state: sum(row.backlog[state] for row in rows) for state in BACKLOG}
    totals.verified = sum(row.verified for row in rows)
    oldest = [row.oldest_unverified for row in rows if row.oldest_unverified]
    totals.oldest_unverified = min(oldest) if oldest else None
    successes = [row.last_success for row in rows if row.last_success]
    totals.last_success = max(successes) if successes else None
    for row in rows:
        for kind, count in row.dead_letters.items():
            totals.dead_letters[kind] = totals.dead_letters.get(kind, 0) + count
    totals.overdue = sum(row.overdue for row in rows)
    legacy = [row.unverifiable for row in rows if row.unverifiable is not None]
    totals.unverifiable = sum(legacy) if legacy else None
    totals.breaker = f"{sum(row.breaker == 'open' for row in rows)} open"
    return totals
