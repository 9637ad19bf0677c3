"""Each recipient's health row: read (and lock) it, write it back, in the caller's transaction."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger import schema
from ledger.records import RecipientHealth

# Built once: SQLAlchemy compiles each once per engine and computes its cache key once.
_READ = select(schema.recipient_health).where(
    schema.recipient_health.c.recipient == bindparam("recipient")
)
_LOCKED = _READ.with_for_update()
_SAVE = (
    update(schema.recipient_health)
    .where(schema.recipient_health.c.recipient == bindparam("h_recipient"))
    .values(
        {
            column.name: bindparam(f"h_{column.name}", type_=column.type)
            for column in schema.recipient_health.c
            if column.name != "recipient"
        }
    )
)


class HealthStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, recipient: str, *, lock: bool = False) -> RecipientHealth:
        """The recipient's health; a recipient never seen before is healthy (and gets a row)."""
        query = _LOCKED if lock else _READ
        row = self._db.execute(query, {"recipient": recipient}).mappings().first()
        if row is None:
            if not lock:
                return RecipientHealth(recipient)
            dialect_insert = (
                postgresql.insert if self._db.dialect.name == "postgresql" else sqlite.insert
            )
            self._db.execute(
                dialect_insert(schema.recipient_health)
                .values(recipient=recipient, consecutive_failures=0, opens=0)
                .on_conflict_do_nothing()
            )
            return self.get(recipient, lock=True)
        return RecipientHealth(**dict(row))

    def save(self, health: RecipientHealth) -> None:
        self._db.execute(_SAVE, {f"h_{name}": value for name, value in asdict(health).items()})

    def all(self) -> list[RecipientHealth]:
        rows = self._db.execute(select(schema.recipient_health)).mappings()
        return [RecipientHealth(**dict(row)) for row in rows]
