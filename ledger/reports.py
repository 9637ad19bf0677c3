"""Reports and their history, inside one transaction (owned by the unit of work).

Every state change goes through `ReportStore.move`: it checks the lifecycle, appends a
hash-chained transition, updates the report's derived state and, if asked, adds an outbox
row, all on the caller's transaction.

A report's content is written by `add` and read by `document` only, sealed with the key
ring the unit of work was given (`ledger.content_crypto`); `erase_content` removes it and
records the erasure as a transition.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    RowMapping,
    String,
    Table,
    bindparam,
    cast,
    delete,
    literal,
    select,
    text,
    union_all,
    update,
)

from ledger import schema
from ledger.chain import GENESIS, link_hash
from ledger.content_crypto import KeyRing, Sealed
from ledger.errors import ConcurrentChange, NoContentKeys
from ledger.first_write import write_new_report
from ledger.health import HealthStore
from ledger.lifecycle import ERASABLE, State, check_transition
from ledger.outbox import OutboxStore
from ledger.queries import SealedRow, split_content
from ledger.records import (
    Dispatch,
    IdempotencyKey,
    Kind,
    Move,
    NewReport,
    RecipientHealth,
    Report,
    StateKind,
    Transition,
    transition_from_row,
)


class ReportStore:
    def __init__(
        self, connection: Connection, outbox: OutboxStore, keys: KeyRing | None = None
    ) -> None:
        self._db = connection
        self._outbox = outbox
        self._keys = keys

    @property
    def keys(self) -> KeyRing:
        if self._keys is None:
            raise NoContentKeys()
        return self._keys

    def add(
        self,
        new: NewReport,
        document: bytes,
        *,
        actor: str,
        dispatch: Dispatch,
        key: IdempotencyKey | None = None,
    ) -> Report:
        """Insert a report in RECEIVED with its first transition, its first outbox row and,
        if given, the client's Idempotency-Key for it (`ledger.first_write`).

        Raises `DuplicateKey` when another request committed that key first; the
        transaction can then only be rolled back."""
        check_transition(new.id, None, State.RECEIVED)
        first = link_hash(
            GENESIS, new.id, 1, None, State.RECEIVED.value, new.received_at, actor, None, None
        )
        sealed = self.keys.seal(new.id, document)
        values: dict[str, Any] = {
            "id": new.id,
            "client_id": new.client_id,
            "meldingstype": new.meldingstype,
            "state": State.RECEIVED.value,
            "submitted_kommunenummer": new.submitted_kommunenummer,
            "submitted_bydelsnummer": new.submitted_bydelsnummer,
            "received_at": new.received_at,
            "sendingstidspunkt": new.sendingstidspunkt,
            "updated_at": new.received_at,
            "attempts": 0,
            "missing_count": 0,
            "last_sequence": 1,
            "last_hash": first,
            "previous_hash": GENESIS,
            "actor": actor,
            "document": sealed.ciphertext,
            "key_id": sealed.key_id,
            "wrapped_key": sealed.wrapped_key,
            "task": dispatch.task,
            "queue": dispatch.queue,
        }
        if key is not None:
            values.update(idempotency_key=key.key, request_sha256=key.request_sha256)
        write_new_report(self._db, values, keyed=key is not None)
        self._outbox.written = True  # its outbox row: the commit wakes the outbox relay
        return Report(
            id=new.id,
            client_id=new.client_id,
            meldingstype=new.meldingstype,
            state=State.RECEIVED,
            submitted_kommunenummer=new.submitted_kommunenummer,
            submitted_bydelsnummer=new.submitted_bydelsnummer,
            kommunenummer=None,
            bydelsnummer=None,
            recipient=None,
            vendor=None,
            received_at=new.received_at.astimezone(UTC),
            sendingstidspunkt=new.sendingstidspunkt and new.sendingstidspunkt.astimezone(UTC),
            updated_at=new.received_at.astimezone(UTC),
            attempts=0,
            routed_at=None,
            next_attempt_at=None,
            delivery_sha256=None,
            saksreferanse=None,
            last_sequence=1,
            last_hash=first,
        )

    def get(self, report_id: str, *, lock: bool = False) -> Report | None:
        """The report; with `lock`, locked."""
        query = _LOCKED if lock else _READ
        row = self._db.execute(query, {"report_id": report_id}).mappings().first()
        return Report.from_row(row) if row else None

    def received_in_turn(self, limit: int) -> list[str]:
        """Up to `limit` RECEIVED reports, taking turns between the municipalities they were
        sent for: the oldest of each, then the second oldest of each, ... Not locked.

        Read through the index of RECEIVED reports by municipality, a few rows per
        municipality: its cost does not grow with a burst that is still waiting to be routed
        (a window over every RECEIVED row did, 6 ms a call at 3,000 of them)."""
        first = self._db.execute(_OLDEST_BY_MUNICIPALITY, {"limit": limit}).all()
        if not first:
            return []
        each = {f"m{n}": municipality for n, (municipality, _) in enumerate(first)}
        rows = self._db.execute(_received_of(len(first)), {**each, "limit": limit}).all()
        return in_turns([(r.submitted_kommunenummer, r.updated_at, r.id) for r in rows], limit)

    def lock_received(self, report_ids: list[str]) -> list[Report]:
        """Those of `report_ids` still RECEIVED, locked, in the order given; a report another
        transaction holds is left out (SKIP LOCKED), not waited for."""
        rows = self._db.execute(_RECEIVED_LOCKED, {"ids": report_ids}).mappings()
        found = {row["id"]: Report.from_row(row) for row in rows}
        return [found[report_id] for report_id in report_ids if report_id in found]

    def document(self, report_id: str) -> bytes | None:
        """The report's content as the portal sent it; None once erased (or never stored).

        Raises `ContentUnreadable` when the key ring cannot open it."""
        contents = schema.report_contents.c
        row = self._db.execute(
            select(contents.document, contents.key_id, contents.wrapped_key).where(
                contents.report_id == report_id
            )
        ).first()
        return None if row is None else self._open(report_id, *row)

    def locked_with_document(
        self, report_id: str
    ) -> tuple[Report, Callable[[], bytes | None]] | None:
        """The report, locked, and its content to open when needed (`document`), read in one
        round trip: for a step that will most likely send it."""
        row = self._db.execute(_WITH_CONTENT, {"report_id": report_id}).mappings().first()
        if row is None:
            return None
        values, sealed = split_content(dict(row))
        return Report.from_row(values), lambda: self.opened(report_id, sealed)

    def opened(self, report_id: str, sealed: SealedRow) -> bytes | None:
        """The report's content read along with another query (`ledger.queries.SealedRow`),
        opened; None if it had none. Raises `ContentUnreadable` as `document` does."""
        return None if sealed is None else self._open(report_id, *sealed)

    def _open(self, report_id: str, document: Any, key_id: str | None, wrapped_key: Any) -> bytes:
        if key_id is None:
            return bytes(document)  # stored before encryption; `relay keys rotate` seals it
        return self.keys.open(report_id, Sealed(key_id, bytes(wrapped_key), bytes(document)))

    def erase_content(
        self,
        report: Report,
        *,
        at: datetime,
        actor: str,
        reason: str,
        detail: Mapping[str, Any] | None = None,
    ) -> Report:
        """Delete the content of a VERIFIED or RESOLVED_MANUALLY report and record it in its
        chain (a move to the state it is in). `report` must be locked, its content present."""
        if report.state not in ERASABLE or report.content_erased_at is not None:
            raise ValueError(f"report {report.id} is {report.state.value}; nothing to erase")
        deleted = self._db.execute(
            delete(schema.report_contents).where(schema.report_contents.c.report_id == report.id)
        )
        if deleted.rowcount != 1:
            raise ConcurrentChange(report.id)
        return self.move(
            report,
            report.state,
            at=at,
            actor=actor,
            reason=reason,
            kind=StateKind.CONTENT_ERASED,
            detail=detail,
            changes={"content_erased_at": at},
        )

    def move(
        self,
        report: Report,
        to_state: State,
        *,
        at: datetime,
        actor: str,
        reason: str | None = None,
        kind: Kind | None = None,
        detail: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        dispatch: Dispatch | None = None,
    ) -> Report:
        """Record `report.state -> to_state` and apply `changes` to the report's columns.

        `reason` (for people) and `kind` (for scripts) describe why the report is now in
        its state; they are kept on the report until its next move.

        `report` must have been read in this transaction with `lock=True`.
        Raises `IllegalTransition` (and writes nothing) if the lifecycle forbids the move.
        """
        move = Move(to_state, reason, kind, detail, changes or {})
        return self.move_through(report, (move,), at=at, actor=actor, dispatch=dispatch)

    def move_through(
        self,
        report: Report,
        moves: Sequence[Move],
        *,
        at: datetime,
        actor: str,
        dispatch: Dispatch | None = None,
    ) -> Report:
        """Record `moves` one after another, as `move` would each (every transition in the
        chain, the changes applied in order, the last move's reason and kind kept), in one
        statement: a report routed and parked at once, or released and claimed at once."""
        return Report.from_row(self._write(report, moves, at, actor, dispatch, health=False))

    def move_reading_health(
        self, report: Report, move: Move, *, at: datetime, actor: str
    ) -> tuple[Report, RecipientHealth]:
        """`move`, and the health of the report's recipient (read without a lock, as
        `HealthStore.get` reads it) in the same statement: an attempt's outcome recorded."""
        assert report.recipient is not None
        row = dict(self._write(report, (move,), at, actor, None, health=True))
        if self._db.dialect.name != "postgresql":  # no round trip to save
            return Report.from_row(row), HealthStore(self._db).get(report.recipient)
        health = {name: row.pop(f"h_{name}") for name in _HEALTH_COLUMNS}
        if health["recipient"] is None:  # never seen before: healthy
            return Report.from_row(row), RecipientHealth(report.recipient)
        return Report.from_row(row), RecipientHealth(**health)

    def _write(
        self,
        report: Report,
        moves: Sequence[Move],
        at: datetime,
        actor: str,
        dispatch: Dispatch | None,
        *,
        health: bool,
    ) -> RowMapping:
        state, sequence, last_hash = report.state, report.last_sequence, report.last_hash
        values: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for number, move in enumerate(moves):
            check_transition(report.id, state, move.to_state)
            sequence += 1
            # The transition's columns, built here rather than through a `Transition` and
            # `dataclasses.asdict`: this runs several times for every report.
            detail = dict(move.detail) if move.detail else None
            hash_ = link_hash(
                last_hash,
                report.id,
                sequence,
                state.value,
                move.to_state.value,
                at,
                actor,
                move.reason,
                detail,
            )
            link = {
                "report_id": report.id,
                "sequence": sequence,
                "from_state": state.value,
                "to_state": move.to_state.value,
                "at": at,
                "actor": actor,
                "reason": move.reason,
                "detail": detail,
                "previous_hash": last_hash,
                "hash": hash_,
            }
            params.update({f"t{number}_{name}": value for name, value in link.items()})
            values.update(move.changes)
            state, last_hash = move.to_state, hash_
        last = moves[-1]
        values.update(
            state=state.value,
            updated_at=at,
            last_sequence=sequence,
            last_hash=last_hash,
            state_reason=last.reason,
            state_kind=last.kind.value if last.kind else None,
        )
        params.update({f"m_{name}": value for name, value in values.items()})
        params.update(m_report_id=report.id, m_expected_sequence=report.last_sequence)
        if dispatch is not None:
            params.update(o_task=dispatch.task, o_queue=dispatch.queue)
        postgres = self._db.dialect.name == "postgresql"
        statements = _move_statements(
            tuple(sorted(values)), len(moves), dispatch is not None, postgres, health
        )
        row = self._db.execute(statements[0], params).mappings().first()
        if row is None:
            raise ConcurrentChange(report.id)  # nothing was written
        for statement in statements[1:]:
            self._db.execute(statement, params)
        if dispatch is not None:
            self._outbox.written = True  # the commit wakes the outbox relay
        return row

    def history(self, report_id: str) -> list[Transition]:
        rows = self._db.execute(
            select(schema.transitions)
            .where(schema.transitions.c.report_id == report_id)
            .order_by(schema.transitions.c.sequence)
        ).mappings()
        return [transition_from_row(row) for row in rows]


# Built once: SQLAlchemy compiles each once per engine and computes its cache key once.
_READ = select(schema.reports).where(schema.reports.c.id == bindparam("report_id"))
_LOCKED = _READ.with_for_update()
_RECEIVED_LOCKED = (
    select(schema.reports)
    .where(schema.reports.c.id.in_(bindparam("ids", expanding=True)))
    .where(text(schema.RECEIVED_SQL))
    .with_for_update(skip_locked=True)
)
# The municipalities with RECEIVED reports (up to :limit, those whose oldest report is the
# oldest first), found by skipping along `ix_reports_received` from one municipality to the
# next (a loose index scan, as PostgreSQL's wiki writes it) instead of reading every row.
# `state = 'RECEIVED'` is `schema.RECEIVED_SQL`, the index's own predicate, written out.
_OLDEST_BY_MUNICIPALITY = text(
    """
WITH RECURSIVE municipality(n) AS (
    SELECT (SELECT submitted_kommunenummer FROM reports WHERE state = 'RECEIVED'
            ORDER BY submitted_kommunenummer LIMIT 1)
    UNION ALL
    SELECT (SELECT submitted_kommunenummer FROM reports WHERE state = 'RECEIVED'
            AND submitted_kommunenummer > municipality.n
            ORDER BY submitted_kommunenummer LIMIT 1)
    FROM municipality WHERE municipality.n IS NOT NULL
)
SELECT n, (SELECT updated_at FROM reports WHERE state = 'RECEIVED'
           AND submitted_kommunenummer = municipality.n
           ORDER BY updated_at LIMIT 1) AS oldest
FROM municipality WHERE n IS NOT NULL
ORDER BY oldest, n
LIMIT :limit
"""
).columns(n=String, oldest=schema.UTCDateTime)


@functools.lru_cache(maxsize=32)
def _received_of(municipalities: int) -> CompoundSelect[Any]:
    """Up to :limit of the oldest RECEIVED reports of each of :m0, :m1, ..."""
    reports = schema.reports.c
    each = (
        select(reports.id, reports.submitted_kommunenummer, reports.updated_at)
        .where(text(schema.RECEIVED_SQL))
        .where(reports.submitted_kommunenummer == bindparam(f"m{n}"))
        .order_by(reports.updated_at)
        .limit(bindparam("limit", type_=Integer))
        .subquery()
        for n in range(municipalities)
    )
    return union_all(*(select(subquery) for subquery in each))


def in_turns(rows: Iterable[tuple[str, Any, str]], limit: int) -> list[str]:
    """The ids of (municipality, received, id) rows taking turns: the oldest of each
    municipality, then the second oldest of each, ..., each turn oldest first; `limit` of them."""
    ranked: dict[str, int] = {}
    turns = []
    for municipality, at, report_id in sorted(rows):
        turn = ranked[municipality] = ranked.get(municipality, -1) + 1
        turns.append((turn, at, report_id))
    return [report_id for _, _, report_id in sorted(turns)[:limit]]


_CONTENTS = schema.report_contents.c
_WITH_CONTENT = (
    select(
        schema.reports,
        _CONTENTS.report_id.label("c_present"),
        _CONTENTS.document.label("c_document"),
        _CONTENTS.key_id.label("c_key_id"),
        _CONTENTS.wrapped_key.label("c_wrapped_key"),
    )
    .select_from(schema.reports.outerjoin(schema.report_contents))
    .where(schema.reports.c.id == bindparam("report_id"))
    .with_for_update(of=schema.reports)
)
_TRANSITION_COLUMNS = tuple(column.name for column in schema.transitions.c)
_OUTBOX_COLUMNS = ("report_id", "task", "queue", "created_at", "publish_attempts")
_HEALTH_COLUMNS = tuple(column.name for column in schema.recipient_health.c)


@functools.lru_cache(maxsize=64)
def _move_statements(
    columns: tuple[str, ...], links: int, dispatch: bool, postgres: bool, health: bool = False
) -> tuple[Any, ...]:
    """The statements of a move whose report update sets `columns` and records `links`
    transitions, built once per shape (SQLAlchemy then compiles each once per engine). The
    first returns the moved report's row, or none if the report was not where the caller
    read it (then nothing is written).

    On PostgreSQL that is one statement (the update with RETURNING, the transitions and the
    outbox row inserted from it as data-modifying CTEs): one round trip instead of four;
    with `health`, it returns the report's recipient's health row too (`h_` columns). On
    SQLite, whose statements cost no round trip, the update with RETURNING, then the rows.
    """
    reports = schema.reports
    update_report = (
        update(reports)
        .where(reports.c.id == bindparam("m_report_id"))
        .where(reports.c.last_sequence == bindparam("m_expected_sequence"))
        .values({name: bindparam(f"m_{name}", type_=reports.c[name].type) for name in columns})
        .returning(*reports.c)
    )

    def param(table: Table, name: str, prefix: str) -> Any:
        return bindparam(f"{prefix}_{name}", type_=table.c[name].type)

    transitions = [
        [param(schema.transitions, name, f"t{number}") for name in _TRANSITION_COLUMNS]
        for number in range(links)
    ]
    outbox_params = [
        bindparam("m_report_id"),
        bindparam("o_task"),
        bindparam("o_queue"),
        bindparam("m_updated_at", type_=schema.outbox.c.created_at.type),
        literal(0),
    ]
    if not postgres:
        rows = [
            schema.transitions.insert().values(dict(zip(_TRANSITION_COLUMNS, link, strict=True)))
            for link in transitions
        ]
        if dispatch:
            rows.append(
                schema.outbox.insert().values(
                    dict(zip(_OUTBOX_COLUMNS, outbox_params, strict=True))
                )
            )
        return (update_report, *rows)
    moved = update_report.cte("moved")

    def from_moved(table: Table, names: tuple[str, ...], params: list[Any]) -> Any:
        typed = [cast(p, table.c[n].type) for n, p in zip(names, params, strict=True)]
        return table.insert().from_select(list(names), select(*typed).select_from(moved))

    ctes = [
        from_moved(schema.transitions, _TRANSITION_COLUMNS, link).cte(f"link{number}")
        for number, link in enumerate(transitions)
    ]
    if dispatch:
        ctes.append(from_moved(schema.outbox, _OUTBOX_COLUMNS, outbox_params).cte("message"))
    if not health:
        return (select(moved).add_cte(*ctes),)
    # The recipient's health as the statement found it, beside the moved report.
    healths = schema.recipient_health
    read = select(moved, *(healths.c[name].label(f"h_{name}") for name in _HEALTH_COLUMNS))
    joined = moved.outerjoin(healths, healths.c.recipient == moved.c.recipient)
    return (read.select_from(joined).add_cte(*ctes),)
