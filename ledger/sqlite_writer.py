"""One writer at a time per SQLite ledger file in this process, queued on a lock.

SQLite lets one transaction write at a time; every ledger transaction takes that right at
its start (BEGIN IMMEDIATE). Threads of one process that find it taken would wait in
SQLite's busy handler, which sleeps in steps of up to 100 ms and so leaves the file idle
while they sleep (an intake at 32 clients saw 2.5 s at p99). Here they queue on a lock
instead, handed on the moment a transaction commits or rolls back. Other processes on the
same file still meet SQLite's own lock and its busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_lock_of_file: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def writer_lock(database: str) -> threading.Lock:
    """The lock of one database file (every engine on it in this process shares it); an
    in-memory database, private to its connection, gets one of its own."""
    if database in ("", ":memory:"):
        return threading.Lock()
    with _guard:
        return _lock_of_file.setdefault(str(Path(database).resolve()), threading.Lock())


def connection_class(lock: threading.Lock, timeout: float) -> type[sqlite3.Connection]:
    """A sqlite3 connection class (`sqlite3.connect(factory=…)`) whose `queue_to_write`
    waits for `lock` (at most `timeout` seconds), to be called before BEGIN IMMEDIATE, and
    whose commit, rollback and close hand it on."""

    class WriterQueuedConnection(sqlite3.Connection):
        holds_lock = False

        def queue_to_write(self) -> None:
            if not self.holds_lock:
                if not lock.acquire(timeout=timeout):
                    raise sqlite3.OperationalError("database is locked")
                self.holds_lock = True

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                if not self.in_transaction:
                    self._hand_on()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._hand_on()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._hand_on()

        def hand_on(self) -> None:
            """Give the lock up (BEGIN IMMEDIATE failed: no transaction holds it)."""
            self._hand_on()

        def _hand_on(self) -> None:
            if self.holds_lock:
                self.holds_lock = False
                lock.release()

    return WriterQueuedConnection


@contextmanager
def queued_to_write(dbapi_connection: Any) -> Iterator[None]:
    """Around BEGIN IMMEDIATE on a connection of `connection_class` (any other: as is)."""
    queued = hasattr(dbapi_connection, "queue_to_write")
    if queued:
        dbapi_connection.queue_to_write()
    try:
        yield
    except BaseException:
        if queued:
            dbapi_connection.hand_on()
        raise
