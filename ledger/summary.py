"""What monitoring asks of the ledger at every scrape (`relay.ledger_metrics`): counts and
ages by recipient, from a few grouped queries that indexes answer.

Reports by state and recipient read the (recipient, state) index; the oldest unverified and
the overdue reports read only the partial index over unfinished reports
(`schema.UNFINISHED_SQL`), however many verified ones the ledger keeps; dead letters use the
(state, updated_at) index and unpublished outbox rows the (published_at, id) one; breakers
and heartbeats are a row per recipient and per process. Metadata only: ids, states, kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, case, func, literal, or_, select, text

from ledger import schema
from ledger.alerts import OverdueLimits
from ledger.heartbeats import PROCESS
from ledger.lifecycle import State

UNFINISHED = text(schema.UNFINISHED_SQL)


@dataclass(frozen=True)
class ProcessBeat:
    role: str  # worker, scheduler or embedded
    process_id: str
    beat_at: datetime


@dataclass(frozen=True)
class LedgerSummary:
    """One reading of the ledger, for the gauges. Recipient None: not routed (yet)."""

    reports: Mapping[tuple[State, str | None], int]
    oldest_unfinished: Mapping[str | None, datetime]
    overdue: Mapping[str | None, int]
    dead_letters: Mapping[tuple[str | None, str | None], int]  # (recipient, kind) -> count
    breakers_open: Mapping[str, bool]
    outbox_unpublished: int
    outbox_oldest: datetime | None
    beats: list[ProcessBeat]


class SummaryStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def summary(self, limits: OverdueLimits, now: datetime) -> LedgerSummary:
        unpublished, oldest = self.outbox_backlog()
        return LedgerSummary(
            reports=self.reports_by_state(),
            oldest_unfinished=self.oldest_unfinished(),
            overdue=self.overdue(limits, now),
            dead_letters=self.dead_letters(),
            breakers_open=self.breakers_open(now),
            outbox_unpublished=unpublished,
            outbox_oldest=oldest,
            beats=self.process_beats(),
        )

    def reports_by_state(self) -> dict[tuple[State, str | None], int]:
        r = schema.reports.c
        rows = self._db.execute(
            select(r.state, r.recipient, func.count()).group_by(r.state, r.recipient)
        )
        return {(State(state), recipient): count for state, recipient, count in rows}

    def oldest_unfinished(self) -> dict[str | None, datetime]:
        """Per recipient, when its oldest report not VERIFIED nor resolved was received."""
        return {recipient: oldest for recipient, oldest in self._db.execute(oldest_unfinished())}

    def overdue(self, limits: OverdueLimits, now: datetime) -> dict[str | None, int]:
        """Per recipient, its reports not VERIFIED within its limit: what the alerts job calls
        overdue (`OverdueLimits.is_overdue`), counted in the database."""
        return {recipient: count for recipient, count in self._db.execute(overdue(limits, now))}

    def dead_letters(self) -> dict[tuple[str | None, str | None], int]:
        r = schema.reports.c
        rows = self._db.execute(
            select(r.recipient, r.state_kind, func.count())
            .where(r.state == State.DEAD_LETTERED.value)
            .group_by(r.recipient, r.state_kind)
        )
        return {(recipient, kind): count for recipient, kind, count in rows}

    def breakers_open(self, now: datetime) -> dict[str, bool]:
        """Open: attempts wait. Past `open_until` it is half-open (a probe may go), not open."""
        h = schema.recipient_health.c
        rows = self._db.execute(select(h.recipient, h.open_until))
        return {recipient: until is not None and now < until for recipient, until in rows}

    def outbox_backlog(self) -> tuple[int, datetime | None]:
        o = schema.outbox.c
        count, oldest = self._db.execute(
            select(func.count(), func.min(o.created_at)).where(o.published_at.is_(None))
        ).one()
        return int(count), oldest

    def process_beats(self) -> list[ProcessBeat]:
        """Each process's own row: its last sign of life (what `relay health --check` reads)."""
        b = schema.heartbeats.c
        rows = self._db.execute(
            select(b.role, b.process_id, b.beat_at)
            .where(b.queue == PROCESS)
            .order_by(b.role, b.process_id)
        )
        return [ProcessBeat(role, process_id, beat_at) for role, process_id, beat_at in rows]


def oldest_unfinished() -> Select[Any]:
    r = schema.reports.c
    return select(r.recipient, func.min(r.received_at)).where(UNFINISHED).group_by(r.recipient)


def overdue(limits: OverdueLimits, now: datetime) -> Select[Any]:
    r = schema.reports.c

    def cutoff(seconds: float) -> Any:
        return literal(now - timedelta(seconds=seconds), schema.UTCDateTime())

    own = {recipient: cutoff(seconds) for recipient, seconds in limits.by_recipient.items()}
    default = cutoff(limits.default_seconds)
    deadline = case(own, value=r.recipient, else_=default) if own else default
    query = (
        select(r.recipient, func.count())
        .where(UNFINISHED)
        .where(r.received_at <= cutoff(limits.shortest()))
        .where(r.received_at <= deadline)
        .group_by(r.recipient)
    )
    if limits.unverifiable:  # their DELIVERED reports can never be verified
        query = query.where(
            or_(r.state != State.DELIVERED.value, r.recipient.not_in(limits.unverifiable))
        )
    return query
