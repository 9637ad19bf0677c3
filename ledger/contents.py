"""The sealed content as a whole, inside one transaction: which keys it is stored under,
re-wrapping data keys for a key rotation, and the append-only log of people's reads.

One report's content is written and read by `ReportStore.add` and `ReportStore.document`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger import schema
from ledger.content_crypto import KeyRing, Sealed
from ledger.lifecycle import ERASABLE

_contents = schema.report_contents.c


@dataclass(frozen=True)
class Access:
    """A person read a report's content: who, when and why."""

    report_id: str
    at: datetime
    operator: str
    reason: str


class ContentStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def key_ids_in_use(self) -> set[str | None]:
        """Every key id some content is stored under (None: stored before encryption)."""
        return set(self._db.execute(select(_contents.key_id).distinct()).scalars())

    def check_values(self) -> dict[str, bytes]:
        keys = schema.content_keys.c
        rows = self._db.execute(select(keys.key_id, keys.check_value))
        return {key_id: bytes(value) for key_id, value in rows}

    def register_key(self, key_id: str, check_value: bytes, at: datetime) -> None:
        """Keep the check value of a key first seen now (a concurrent start may win)."""
        insert = postgresql.insert if self._db.dialect.name == "postgresql" else sqlite.insert
        self._db.execute(
            insert(schema.content_keys)
            .values(key_id=key_id, check_value=check_value, created_at=at)
            .on_conflict_do_nothing()
        )

    def not_under(self, key_id: str) -> int:
        """How many reports' content is not (yet) wrapped by `key_id`."""
        return int(
            self._db.execute(
                select(func.count()).where(
                    (_contents.key_id != key_id) | _contents.key_id.is_(None)
                )
            ).scalar_one()
        )

    def next_not_under(self, key_id: str, *, after: str, limit: int) -> list[str]:
        """Report ids, in order after `after`, whose content is not wrapped by `key_id`."""
        return list(
            self._db.execute(
                select(_contents.report_id)
                .where((_contents.key_id != key_id) | _contents.key_id.is_(None))
                .where(_contents.report_id > after)
                .order_by(_contents.report_id)
                .limit(limit)
            ).scalars()
        )

    def rewrap(self, report_id: str, keys: KeyRing) -> bool:
        """Wrap this report's data key with the ring's first key (content stored before
        encryption is sealed now). Locks the row; False if it is gone or already done."""
        row = self._db.execute(
            select(_contents.document, _contents.key_id, _contents.wrapped_key)
            .where(_contents.report_id == report_id)
            .with_for_update()
        ).first()
        if row is None or row.key_id == keys.primary.id:
            return False
        if row.key_id is None:
            sealed = keys.seal(report_id, bytes(row.document))
        else:
            sealed = keys.rewrap(
                report_id, Sealed(row.key_id, bytes(row.wrapped_key), bytes(row.document))
            )
        self._db.execute(
            update(schema.report_contents)
            .where(_contents.report_id == report_id)
            .values(
                key_id=sealed.key_id, wrapped_key=sealed.wrapped_key, document=sealed.ciphertext
            )
        )
        return True

    def due_for_erasure(self, cutoff: datetime, *, limit: int) -> list[str]:
        """Reports VERIFIED or RESOLVED_MANUALLY since before `cutoff` that still have content."""
        reports = schema.reports.c
        return list(
            self._db.execute(
                select(reports.id)
                .join(schema.report_contents, _contents.report_id == reports.id)
                .where(reports.state.in_([state.value for state in ERASABLE]))
                .where(reports.content_erased_at.is_(None))
                .where(reports.updated_at <= cutoff)
                .order_by(reports.updated_at)
                .limit(limit)
            ).scalars()
        )

    def record_access(self, access: Access) -> None:
        self._db.execute(
            schema.content_accesses.insert().values(
                report_id=access.report_id,
                at=access.at,
                operator=access.operator,
                reason=access.reason,
            )
        )

    def accesses(self, report_id: str | None = None, *, limit: int = 10_000) -> list[Access]:
        table = schema.content_accesses.c
        query = select(table.report_id, table.at, table.operator, table.reason)
        if report_id is not None:
            query = query.where(table.report_id == report_id)
        rows = self._db.execute(query.order_by(table.at, table.id).limit(limit))
        return [Access(*row) for row in rows]
