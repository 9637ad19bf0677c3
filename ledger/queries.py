"""Read-only questions the jobs and operators ask of many reports at once.

Each returns ids or plain `Report` values; a job then moves each report in a transaction of
its own (`ledger.steps.each_locked`).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    text,
)

from ledger import schema
from ledger.lifecycle import STORED, State
from ledger.records import Kind, Report, StateKind

WAITING = text(schema.WAITING_SQL)  # literal, so that `ix_reports_waiting` can be used


class ReportQueries:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def ping(self) -> None:
        self._db.execute(select(1)).scalar_one()

    def reports_in(
        self,
        states: Sequence[State],
        *,
        recipient: str | None = None,
        kind: Kind | None = None,
        limit: int = 1000,
    ) -> list[Report]:
        query = select(schema.reports).where(schema.reports.c.state.in_([s.value for s in states]))
        if recipient is not None:
            query = query.where(schema.reports.c.recipient == recipient)
        if kind is not None:
            query = query.where(schema.reports.c.state_kind == kind.value)
        rows = self._db.execute(query.order_by(schema.reports.c.updated_at).limit(limit)).mappings()
        return [Report.from_row(row) for row in rows]

    def count_for_recipient(self, recipient: str, states: Sequence[State]) -> int:
        query = _count_for_recipient(tuple(s.value for s in states))
        return int(self._db.execute(query, {"recipient": recipient}).scalar_one())

    def others_waiting(
        self, recipient: str | None, since: datetime, *, to_route: bool = True
    ) -> bool:
        """Has a report that is not `recipient`'s (None: any report) waited for a worker
        since before `since`: a ROUTED report (on its vendor's queue) of another recipient
        that has none DELIVERING (no worker serves it), or, with `to_route`, any RECEIVED
        one (on the route queue)? A few index probes, nothing locked."""
        parameters = {"recipient": recipient or "", "since": since}  # no recipient is ""
        return bool(self._db.execute(_others_waiting(to_route), parameters).scalar_one())

    def recipients_with_due_retries(self, now: datetime) -> list[str]:
        """Recipients with a RETRY_SCHEDULED report that could go now if they have room:
        it waited for them (no attempt spent), or its retry is due."""
        return list(
            self._db.execute(
                select(schema.reports.c.recipient)
                .where(WAITING)
                .where(_ready(now))
                .group_by(schema.reports.c.recipient)
            ).scalars()
        )

    def ready_to_release(
        self,
        recipient: str,
        now: datetime,
        *,
        on_their_way: Sequence[State],
        limit: int,
        others_since: datetime | None = None,
    ) -> Ready:
        """A recipient's RETRY_SCHEDULED reports that could go now (at most `limit` less
        those on their way, one at least; oldest first, locked, skipping rows another
        transaction holds) and how many of its reports are in `on_their_way`, in one round
        trip; nothing when none could go. The count is as of this statement: the caller,
        holding the recipient's health row, counts right. With `others_since` (a settlement
        that may go on with the first), the same statement asks `others_waiting(recipient,
        others_since)` too (answered only when some report could go), and reads each
        report's sealed content (`Ready.contents`)."""
        query = _ready_to_release(tuple(s.value for s in on_their_way), others_since is not None)
        parameters = {"recipient": recipient, "now": now, "limit": limit, "since": others_since}
        rows = [dict(row) for row in self._db.execute(query, parameters).mappings()]
        if not rows:
            return Ready(0, [], False, [])
        first = rows[0]
        reports, contents = [], []
        for row in rows:
            values, sealed = split_content(_without(row))
            reports.append(Report.from_row(values))
            contents.append(sealed)
        return Ready(
            int(first["on_their_way"]), reports, bool(first.get("others_waiting")), contents
        )

    def routing_room(
        self, recipient: str, now: datetime, *, on_their_way: Sequence[State]
    ) -> RoutingRoom:
        """What routing asks before it puts a report for `recipient` on its vendor's queue
        (`deliverers.release.room_at_routing`), in one round trip, nothing locked."""
        query = _routing_room(tuple(s.value for s in on_their_way))
        row = self._db.execute(query, {"recipient": recipient, "now": now}).one()
        return RoutingRoom(bool(row.breaker_set), int(row.on_their_way), bool(row.waiting))

    def stalled(
        self,
        states: Sequence[State],
        cutoff: datetime,
        *,
        kind: Kind | None = None,
        limit: int = 500,
    ) -> list[str]:
        """Reports in `states` (of `kind`, if given) unchanged since `cutoff` and not
        dispatched since then either."""
        recently_dispatched = (
            select(schema.outbox.c.id)
            .where(schema.outbox.c.report_id == schema.reports.c.id)
            .where(schema.outbox.c.created_at >= cutoff)
            .exists()
        )
        query = (
            select(schema.reports.c.id)
            .where(schema.reports.c.state.in_([s.value for s in states]))
            .where(schema.reports.c.updated_at < cutoff)
            .where(~recently_dispatched)
        )
        if kind is not None:
            query = query.where(schema.reports.c.state_kind == kind.value)
        return list(
            self._db.execute(query.order_by(schema.reports.c.updated_at).limit(limit)).scalars()
        )

    def ids_starting_with(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Report ids that begin with `prefix` (at most `limit`), in order."""
        return list(
            self._db.execute(
                select(schema.reports.c.id)
                .where(schema.reports.c.id.startswith(prefix, autoescape=True))
                .order_by(schema.reports.c.id)
                .limit(limit)
            ).scalars()
        )

    def stored_since(self, recipient: str, since: datetime) -> list[str]:
        """Ids the ledger calls DELIVERED or VERIFIED at `recipient`, received since `since`."""
        return list(
            self._db.execute(
                select(schema.reports.c.id)
                .where(schema.reports.c.recipient == recipient)
                .where(schema.reports.c.state.in_([s.value for s in STORED]))
                .where(schema.reports.c.received_at >= since)
            ).scalars()
        )

    def unverified_since(self, cutoff: datetime, *, limit: int = 10_000) -> list[Report]:
        """Reports received before `cutoff` that are neither VERIFIED nor resolved by hand."""
        done = [State.VERIFIED.value, State.RESOLVED_MANUALLY.value]
        rows = self._db.execute(
            select(schema.reports)
            .where(schema.reports.c.state.not_in(done))
            .where(schema.reports.c.received_at <= cutoff)
            .order_by(schema.reports.c.received_at)
            .limit(limit)
        ).mappings()
        return [Report.from_row(row) for row in rows]

    def past_due(self, state: State, column: str, now: datetime, *, limit: int = 500) -> list[str]:
        """Ids of reports in `state` whose deadline `column` (a UTC time) has passed."""
        query = _past_due(select(schema.reports.c.id), state, column, now, limit)
        return list(self._db.execute(query).scalars())

    def reports_past_due(
        self,
        state: State,
        column: str,
        now: datetime,
        *,
        limit: int = 500,
        excluding: Collection[str] = (),
    ) -> list[Report]:
        """`past_due`, the reports themselves (not locked); none of the recipients in
        `excluding`."""
        query = _past_due(select(schema.reports), state, column, now, limit)
        return [
            Report.from_row(row)
            for row in self._db.execute(_excluding(query, excluding)).mappings()
        ]

    def earliest_after(
        self, state: State, column: str, after: datetime, *, excluding: Collection[str] = ()
    ) -> datetime | None:
        """The earliest `column` later than `after` of the reports in `state` (none of the
        recipients in `excluding`), or None: the next to come due (one probe of the index on
        state and `column`)."""
        value = schema.reports.c[column]
        query = select(func.min(value)).where(schema.reports.c.state == state.value)
        query = _excluding(query.where(value > after), excluding)
        return self._db.execute(query).scalar_one()  # type: ignore[no-any-return]


def _excluding(query: Select[Any], recipients: Collection[str]) -> Select[Any]:
    if not recipients:
        return query  # the statement as it was, one compiled form
    return query.where(schema.reports.c.recipient.not_in(sorted(recipients)))


def _past_due(
    query: Select[Any], state: State, column: str, now: datetime, limit: int
) -> Select[Any]:
    deadline = schema.reports.c[column]
    return (
        query.where(schema.reports.c.state == state.value)
        .where(deadline <= now)
        .order_by(deadline)
        .limit(limit)
    )


def _ready(now: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    """Waited for its recipient (ready when the recipient is), or its retry is due."""
    return or_(
        schema.reports.c.state_kind == StateKind.WAITING.value,
        schema.reports.c.next_attempt_at <= now,
    )


class RoutingRoom(NamedTuple):
    breaker_set: bool  # the recipient's breaker has an open time (open or half-open)
    on_their_way: int  # its reports routed or being delivered
    waiting_ahead: bool  # some of its reports wait in the ledger, ready to go


# A report's content as stored (document, key_id, wrapped_key), read along with it, for
# `ledger.reports.ReportStore.opened`; None if it has none.
SealedRow = tuple[Any, str | None, Any] | None


class Ready(NamedTuple):
    on_their_way: int  # the recipient's reports routed or being delivered
    reports: list[Report]  # its reports that could go now, oldest first, locked
    others_waiting: bool  # asked for: another report has waited for a worker
    contents: list[SealedRow]  # each report's content as stored; None where not asked for


_CONTENT_LABELS = ("c_present", "c_document", "c_key_id", "c_wrapped_key")


def split_content(row: dict[str, Any]) -> tuple[dict[str, Any], SealedRow]:
    """A report's row read with its content (the `c_` columns, if the query had them) split
    into the report's columns and its content as stored."""
    present, document, key_id, wrapped_key = (row.pop(label, None) for label in _CONTENT_LABELS)
    return row, None if present is None else (document, key_id, wrapped_key)


def _without(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in _ADDED}


_ADDED = frozenset({"on_their_way", "others_waiting"})


# The hot paths' statements, built once per shape: SQLAlchemy compiles each once per engine
# and computes its cache key once.


# The (state, updated_at) index finds the few rows.
@functools.lru_cache(maxsize=2)
def _others_waiting(to_route: bool) -> Select[Any]:
    since = bindparam("since", type_=schema.reports.c.updated_at.type)
    waiting, served = schema.reports.alias("waiting"), schema.reports.alias("served")
    unserved = (
        exists()
        .where(waiting.c.state == State.ROUTED.value)
        .where(waiting.c.updated_at < since)
        .where(waiting.c.recipient != bindparam("recipient"))
        .where(
            ~exists()
            .where(served.c.recipient == waiting.c.recipient)
            .where(served.c.state == State.DELIVERING.value)
        )
    )
    if not to_route:
        return select(unserved)
    unrouted = (
        exists()
        .where(schema.reports.c.state == State.RECEIVED.value)
        .where(schema.reports.c.updated_at < since)
    )
    return select(or_(unserved, unrouted))


def _counted(recipient: Any, states: tuple[str, ...], alias: str) -> ColumnElement[Any]:
    """How many of `recipient`'s reports are in `states`: one count per state, each an
    equality on both columns of the (recipient, state) index. Asked `state IN (...)`,
    PostgreSQL's cached plan for the statement may match the recipient in the index and
    filter on the state: at each settlement it read every row of a recipient with a backlog
    of 10,000 (600 pages a call, most of the drain's database time)."""
    counts = []
    for n, state in enumerate(states):
        rows = schema.reports.alias(f"{alias}_{n}")
        count = select(func.count()).select_from(rows).where(rows.c.recipient == recipient)
        counts.append(count.where(rows.c.state == state).scalar_subquery())
    return functools.reduce(operator.add, counts)


@functools.lru_cache(maxsize=16)
def _count_for_recipient(states: tuple[str, ...]) -> Select[Any]:
    return select(_counted(bindparam("recipient"), states, "counted"))


def _room(on_their_way: tuple[str, ...]) -> ColumnElement[int]:
    """`limit` less the recipient's reports on their way, and at least one (a half-open
    breaker's probe may go whatever is counted): no more rows are read and locked than the
    caller can release (`deliverers.breaker.free_slots`). A settlement read and locked
    `limit` of them every time while it could release one or two."""
    busy = _counted(bindparam("recipient"), on_their_way, "room")
    free = bindparam("limit", type_=Integer) - busy
    return case((free > 1, free), else_=1)


@functools.lru_cache(maxsize=16)
def _ready_to_release(on_their_way: tuple[str, ...], others: bool) -> Select[Any]:
    counted = _counted(bindparam("recipient"), on_their_way, "busy").label("on_their_way")
    now = bindparam("now", type_=schema.reports.c.next_attempt_at.type)
    columns: list[Any] = [schema.reports, counted]
    if others:
        columns.append(_others_waiting(True).scalar_subquery().label("others_waiting"))
    ready = (
        select(*columns)
        .where(schema.reports.c.recipient == bindparam("recipient"))
        .where(WAITING)
        .where(
            or_(
                schema.reports.c.state_kind == StateKind.WAITING.value,
                schema.reports.c.next_attempt_at <= now,
            )
        )
        .order_by(schema.reports.c.received_at)
        .limit(_room(on_their_way))
        .with_for_update(skip_locked=True, of=schema.reports)
    )
    if not others:
        return ready
    # Each report's content joined to the rows locked, after the limit. Read in the scan
    # itself, it was read (four index lookups) for every row the scan passed, the rows
    # other workers hold locked and this statement skips included.
    locked, contents = ready.subquery("ready"), schema.report_contents.c
    return (
        select(
            locked,
            contents.report_id.label("c_present"),
            contents.document.label("c_document"),
            contents.key_id.label("c_key_id"),
            contents.wrapped_key.label("c_wrapped_key"),
        )
        .select_from(locked.outerjoin(schema.report_contents, contents.report_id == locked.c.id))
        .order_by(locked.c.received_at)
    )


@functools.lru_cache(maxsize=4)
def _routing_room(on_their_way: tuple[str, ...]) -> Select[Any]:
    reports, health = schema.reports, schema.recipient_health
    recipient = bindparam("recipient", type_=schema.reports.c.recipient.type)
    breaker_set = (
        select(health.c.open_until.is_not(None))
        .where(health.c.recipient == recipient)
        .scalar_subquery()
    )
    busy = _counted(recipient, on_their_way, "busy")
    waiting = (
        select(reports.c.id)
        .where(reports.c.recipient == recipient)
        .where(WAITING)
        .where(_ready(bindparam("now", type_=reports.c.next_attempt_at.type)))
        .exists()
    )
    return select(
        func.coalesce(breaker_set, False).label("breaker_set"),
        busy.label("on_their_way"),
        waiting.label("waiting"),
    )
