"""Heartbeats: every process's last sign of life, kept in the ledger so that no process has
to be trusted about itself.

The scheduler sends a heartbeat task through every queue the workers consume and records
when it did (its own row, queue ""). A worker records each heartbeat it consumed, per queue,
and its watchdog records when the worker last took any message from the broker. A worker
whose heartbeats stop while the scheduler's go on has stopped consuming.

Each row also says which routes table its process had in force (the routes file's SHA-256
and since when), so an operator can see which processes use a changed file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ledger import schema

PROCESS = ""  # the queue of a process's own row


@dataclass(frozen=True)
class Beat:
    process_id: str
    queue: str  # "" for the process itself, else a queue whose heartbeat it consumed
    role: str  # "worker", "scheduler" or "embedded"
    hostname: str
    pid: int
    started_at: datetime
    beat_at: datetime
    consumed_at: datetime | None = None
    routes_sha256: str | None = None  # the routes table in force: its file's SHA-256
    routes_loaded_at: datetime | None = None  # and when the process started using it


class HeartbeatStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def beat(self, beat: Beat) -> None:
        """Insert or refresh this (process, queue) row."""
        insert = postgresql.insert if self._db.dialect.name == "postgresql" else sqlite.insert
        values = vars(beat)
        statement = insert(schema.heartbeats).values(**values)
        self._db.execute(
            statement.on_conflict_do_update(
                index_elements=["process_id", "queue"],
                set_={
                    column: statement.excluded[column]
                    for column in (
                        "beat_at",
                        "consumed_at",
                        "pid",
                        "routes_sha256",
                        "routes_loaded_at",
                    )
                },
            )
        )

    def all(self) -> list[Beat]:
        rows = self._db.execute(
            select(schema.heartbeats).order_by(
                schema.heartbeats.c.role, schema.heartbeats.c.process_id, schema.heartbeats.c.queue
            )
        ).mappings()
        return [Beat(**row) for row in rows]

    def last(self, role: str) -> datetime | None:
        """The newest beat of any process in `role` (e.g. when heartbeats were last sent)."""
        return self._db.execute(
            select(func.max(schema.heartbeats.c.beat_at)).where(
                schema.heartbeats.c.role == role, schema.heartbeats.c.queue == PROCESS
            )
        ).scalar_one_or_none()

    def last_consumed(self) -> datetime | None:
        """The newest heartbeat any worker consumed, from any queue."""
        return self._db.execute(
            select(func.max(schema.heartbeats.c.beat_at)).where(
                schema.heartbeats.c.queue != PROCESS
            )
        ).scalar_one_or_none()

    def forget_before(self, cutoff: datetime) -> int:
        """Rows of processes not heard from since `cutoff` (stopped or replaced)."""
        result = self._db.execute(
            delete(schema.heartbeats).where(schema.heartbeats.c.beat_at < cutoff)
        )
        return int(result.rowcount)
