"""Reading and writing the ledger inside one transaction (owned by the unit of work).

Every state change goes through `Ledger.move`: it checks the lifecycle, appends a
hash-chained transition, updates the report's derived state and, if asked, adds an outbox
row, all on the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from ledger import schema
from ledger.chain import GENESIS, link_hash
from ledger.lifecycle import STORED, State, check_transition
from ledger.records import Dispatch, NewReport, OutboxMessage, Report, Transition


class Ledger:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def ping(self) -> None:
        self._db.execute(select(1)).scalar_one()

    # -- reports -----------------------------------------------------------------------

    def add_report(
        self, new: NewReport, document: bytes, *, actor: str, dispatch: Dispatch
    ) -> Report:
        """Insert a report in RECEIVED with its first transition and its first outbox row."""
        check_transition(new.id, None, State.RECEIVED)
        self._db.execute(
            schema.reports.insert().values(
                id=new.id,
                client_id=new.client_id,
                meldingstype=new.meldingstype,
                state=State.RECEIVED.value,
                submitted_kommunenummer=new.submitted_kommunenummer,
                submitted_bydelsnummer=new.submitted_bydelsnummer,
                received_at=new.received_at,
                sendingstidspunkt=new.sendingstidspunkt,
                updated_at=new.received_at,
                attempts=0,
                missing_count=0,
                last_sequence=0,
                last_hash=GENESIS,
            )
        )
        self._db.execute(
            schema.report_contents.insert().values(report_id=new.id, document=document)
        )
        first_hash = self._append(
            new.id, 1, GENESIS, None, State.RECEIVED, new.received_at, actor, None, None
        )
        self._db.execute(
            update(schema.reports)
            .where(schema.reports.c.id == new.id)
            .values(last_sequence=1, last_hash=first_hash)
        )
        self.dispatch(new.id, dispatch, new.received_at)
        report = self.get(new.id)
        assert report is not None
        return report

    def get(self, report_id: str, *, lock: bool = False) -> Report | None:
        query = select(schema.reports).where(schema.reports.c.id == report_id)
        if lock:
            query = query.with_for_update()
        row = self._db.execute(query).mappings().first()
        return Report.from_row(row) if row else None

    def document(self, report_id: str) -> bytes | None:
        return self._db.execute(
            select(schema.report_contents.c.document).where(
                schema.report_contents.c.report_id == report_id
            )
        ).scalar_one_or_none()

    def move(
        self,
        report: Report,
        to_state: State,
        *,
        at: datetime,
        actor: str,
        reason: str | None = None,
        kind: str | None = None,
        detail: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        dispatch: Dispatch | None = None,
    ) -> Report:
        """Record `report.state -> to_state` and apply `changes` to the report's columns.

        `reason` (for people) and `kind` (for scripts, e.g. "rejected") describe why the
        report is now in its state; they are kept on the report until its next move.

        `report` must have been read in this transaction with `lock=True`.
        Raises `IllegalTransition` (and writes nothing) if the lifecycle forbids the move.
        """
        check_transition(report.id, report.state, to_state)
        sequence = report.last_sequence + 1
        new_hash = self._append(
            report.id,
            sequence,
            report.last_hash,
            report.state,
            to_state,
            at,
            actor,
            reason,
            detail,
        )
        values: dict[str, Any] = dict(changes or {})
        values.update(
            state=to_state.value,
            updated_at=at,
            last_sequence=sequence,
            last_hash=new_hash,
            state_reason=reason,
            state_kind=kind,
        )
        result = self._db.execute(
            update(schema.reports)
            .where(schema.reports.c.id == report.id)
            .where(schema.reports.c.last_sequence == report.last_sequence)
            .values(**values)
        )
        if result.rowcount != 1:
            raise ConcurrentChange(report.id)
        if dispatch is not None:
            self.dispatch(report.id, dispatch, at)
        moved = self.get(report.id)
        assert moved is not None
        return moved

    def history(self, report_id: str) -> list[Transition]:
        rows = self._db.execute(
            select(schema.transitions)
            .where(schema.transitions.c.report_id == report_id)
            .order_by(schema.transitions.c.sequence)
        ).mappings()
        return [
            Transition(
                report_id=row["report_id"],
                sequence=row["sequence"],
                from_state=State(row["from_state"]) if row["from_state"] else None,
                to_state=State(row["to_state"]),
                at=row["at"],
                actor=row["actor"],
                reason=row["reason"],
                detail=row["detail"],
                previous_hash=row["previous_hash"],
                hash=row["hash"],
            )
            for row in rows
        ]

    def reports_in(
        self,
        states: Sequence[State],
        *,
        recipient: str | None = None,
        kind: str | None = None,
        limit: int = 1000,
    ) -> list[Report]:
        query = select(schema.reports).where(schema.reports.c.state.in_([s.value for s in states]))
        if recipient is not None:
            query = query.where(schema.reports.c.recipient == recipient)
        if kind is not None:
            query = query.where(schema.reports.c.state_kind == kind)
        rows = self._db.execute(query.order_by(schema.reports.c.updated_at).limit(limit)).mappings()
        return [Report.from_row(row) for row in rows]

    def count_for_recipient(self, recipient: str, states: Sequence[State]) -> int:
        return int(
            self._db.execute(
                select(func.count())
                .select_from(schema.reports)
                .where(schema.reports.c.recipient == recipient)
                .where(schema.reports.c.state.in_([s.value for s in states]))
            ).scalar_one()
        )

    def recipients_with_due_retries(self, now: datetime) -> list[str]:
        return list(
            self._db.execute(
                select(schema.reports.c.recipient)
                .where(schema.reports.c.state == State.RETRY_SCHEDULED.value)
                .where(schema.reports.c.next_attempt_at <= now)
                .group_by(schema.reports.c.recipient)
            ).scalars()
        )

    def due_retries(self, recipient: str, now: datetime, *, limit: int) -> list[str]:
        """A recipient's RETRY_SCHEDULED reports that are due, earliest first."""
        return list(
            self._db.execute(
                select(schema.reports.c.id)
                .where(schema.reports.c.state == State.RETRY_SCHEDULED.value)
                .where(schema.reports.c.recipient == recipient)
                .where(schema.reports.c.next_attempt_at <= now)
                .order_by(schema.reports.c.next_attempt_at)
                .limit(limit)
            ).scalars()
        )

    def stalled(self, states: Sequence[State], cutoff: datetime, *, limit: int = 500) -> list[str]:
        """Reports in `states` unchanged since `cutoff` and not dispatched since then either."""
        recently_dispatched = (
            select(schema.outbox.c.id)
            .where(schema.outbox.c.report_id == schema.reports.c.id)
            .where(schema.outbox.c.created_at >= cutoff)
            .exists()
        )
        return list(
            self._db.execute(
                select(schema.reports.c.id)
                .where(schema.reports.c.state.in_([s.value for s in states]))
                .where(schema.reports.c.updated_at < cutoff)
                .where(~recently_dispatched)
                .order_by(schema.reports.c.updated_at)
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
        deadline = schema.reports.c[column]
        return list(
            self._db.execute(
                select(schema.reports.c.id)
                .where(schema.reports.c.state == state.value)
                .where(deadline <= now)
                .order_by(deadline)
                .limit(limit)
            ).scalars()
        )

    # -- outbox ------------------------------------------------------------------------

    def dispatch(self, report_id: str, dispatch: Dispatch, at: datetime) -> None:
        self._db.execute(
            schema.outbox.insert().values(
                report_id=report_id,
                task=dispatch.task,
                queue=dispatch.queue,
                created_at=at,
                publish_attempts=0,
            )
        )

    def unpublished(self, *, limit: int = 100) -> list[OutboxMessage]:
        rows = self._db.execute(
            select(schema.outbox)
            .where(schema.outbox.c.published_at.is_(None))
            .order_by(schema.outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).mappings()
        return [
            OutboxMessage(
                id=row["id"], report_id=row["report_id"], task=row["task"], queue=row["queue"]
            )
            for row in rows
        ]

    def mark_published(self, message_ids: Sequence[int], at: datetime) -> None:
        if message_ids:
            self._db.execute(
                update(schema.outbox)
                .where(schema.outbox.c.id.in_(message_ids))
                .values(published_at=at)
            )

    def count_outbox(self, report_id: str | None = None) -> int:
        query = select(func.count()).select_from(schema.outbox)
        if report_id is not None:
            query = query.where(schema.outbox.c.report_id == report_id)
        return int(self._db.execute(query).scalar_one())

    # -- idempotency keys --------------------------------------------------------------

    def idempotent_answer(self, client_id: str, key: str) -> tuple[str, str] | None:
        """(request_sha256, report_id) stored for this client's key, if any."""
        row = self._db.execute(
            select(
                schema.idempotency_keys.c.request_sha256, schema.idempotency_keys.c.report_id
            ).where(
                schema.idempotency_keys.c.client_id == client_id,
                schema.idempotency_keys.c.key == key,
            )
        ).first()
        return (row[0], row[1]) if row else None

    def remember_key(
        self, client_id: str, key: str, request_sha256: str, report_id: str, at: datetime
    ) -> None:
        self._db.execute(
            schema.idempotency_keys.insert().values(
                client_id=client_id,
                key=key,
                request_sha256=request_sha256,
                report_id=report_id,
                created_at=at,
            )
        )

    def forget_keys_before(self, cutoff: datetime) -> int:
        result = self._db.execute(
            schema.idempotency_keys.delete().where(schema.idempotency_keys.c.created_at < cutoff)
        )
        return int(result.rowcount)

    # -- internals ---------------------------------------------------------------------

    def _append(
        self,
        report_id: str,
        sequence: int,
        previous_hash: str,
        from_state: State | None,
        to_state: State,
        at: datetime,
        actor: str,
        reason: str | None,
        detail: Mapping[str, Any] | None,
    ) -> str:
        from_value = from_state.value if from_state else None
        new_hash = link_hash(
            previous_hash,
            report_id,
            sequence,
            from_value,
            to_state.value,
            at,
            actor,
            reason,
            detail,
        )
        self._db.execute(
            schema.transitions.insert().values(
                report_id=report_id,
                sequence=sequence,
                from_state=from_value,
                to_state=to_state.value,
                at=at,
                actor=actor,
                reason=reason,
                detail=dict(detail) if detail else None,
                previous_hash=previous_hash,
                hash=new_hash,
            )
        )
        return new_hash


class ConcurrentChange(Exception):
    """Another transaction moved this report after it was read. Nothing was written."""

    def __init__(self, report_id: str) -> None:
        self.report_id = report_id
        super().__init__(f"report {report_id} was changed by another transaction")
