"""The unit of work: one database transaction around one step of the pipeline.

Service functions open a unit of work, read and write through its stores (`uow.reports`,
`uow.outbox`, `uow.keys`, `uow.queries`, `uow.health`, `uow.alerts`, `uow.heartbeats`,
`uow.contents`, `uow.chains`, `uow.summary`, `uow.console`) and call `uow.commit()` once.
Leaving the block without committing rolls everything back, so a step's transition, state
change and outbox row are written together or not at all; a step that only read ends with
`uow.close_read()`, which keeps the connection's prepared statements. Content is sealed and
opened with the key ring the unit of work is given; one opened without it reads and writes
metadata only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import Connection, Engine, RootTransaction

from ledger.alerts import AlertStore
from ledger.chains import ChainStore
from ledger.console import ConsoleStore
from ledger.content_crypto import KeyRing
from ledger.contents import ContentStore
from ledger.health import HealthStore
from ledger.heartbeats import HeartbeatStore
from ledger.idempotency import IdempotencyStore
from ledger.outbox import OutboxStore
from ledger.queries import ReportQueries
from ledger.reports import ReportStore
from ledger.summary import SummaryStore


@dataclass(frozen=True)
class Stores:
    reports: ReportStore
    outbox: OutboxStore
    keys: IdempotencyStore
    queries: ReportQueries
    health: HealthStore
    alerts: AlertStore
    heartbeats: HeartbeatStore
    contents: ContentStore
    chains: ChainStore
    summary: SummaryStore
    console: ConsoleStore

    @classmethod
    def on(cls, connection: Connection, keys: KeyRing | None = None) -> Stores:
        outbox = OutboxStore(connection)
        return cls(
            reports=ReportStore(connection, outbox, keys),
            outbox=outbox,
            keys=IdempotencyStore(connection),
            queries=ReportQueries(connection),
            health=HealthStore(connection),
            alerts=AlertStore(connection),
            heartbeats=HeartbeatStore(connection),
            contents=ContentStore(connection),
            chains=ChainStore(connection),
            summary=SummaryStore(connection),
            console=ConsoleStore(connection),
        )


class UnitOfWork:
    """`on_outbox` is called after a commit that wrote outbox rows: it wakes this process's
    outbox relay at once (other processes' relays are woken by PostgreSQL's NOTIFY)."""

    def __init__(
        self,
        engine: Engine,
        keys: KeyRing | None = None,
        *,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._on_outbox = on_outbox
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._stores: Stores | None = None

    @property
    def reports(self) -> ReportStore:
        return self._open().reports

    @property
    def outbox(self) -> OutboxStore:
        return self._open().outbox

    @property
    def keys(self) -> IdempotencyStore:
        return self._open().keys

    @property
    def queries(self) -> ReportQueries:
        return self._open().queries

    @property
    def health(self) -> HealthStore:
        return self._open().health

    @property
    def alerts(self) -> AlertStore:
        return self._open().alerts

    @property
    def heartbeats(self) -> HeartbeatStore:
        return self._open().heartbeats

    @property
    def contents(self) -> ContentStore:
        return self._open().contents

    @property
    def chains(self) -> ChainStore:
        return self._open().chains

    @property
    def summary(self) -> SummaryStore:
        return self._open().summary

    @property
    def console(self) -> ConsoleStore:
        return self._open().console

    @property
    def one_writer(self) -> bool:
        """Whether each transaction holds the ledger's only write lock from its start
        (SQLite: BEGIN IMMEDIATE), so that whatever it waits for, every writer waits for."""
        return self._engine.dialect.name == "sqlite"

    def __enter__(self) -> UnitOfWork:
        self._connection = connection = self._engine.connect()
        self._transaction = connection.begin()
        self._stores = Stores.on(connection, self._keys)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            if self._connection is not None:
                self._connection.close()
            self._connection = self._transaction = self._stores = None

    def commit(self) -> None:
        if self._transaction is None or self._stores is None:
            raise _not_open()
        self._transaction.commit()
        if self._stores.outbox.written and self._on_outbox is not None:
            self._on_outbox()

    def close_read(self) -> None:
        """End a transaction that only read (a step that found nothing to do) with a commit,
        not by leaving it to be rolled back: a ROLLBACK makes psycopg forget every statement
        it prepared on the connection, and PostgreSQL would parse and plan each again."""
        self.commit()

    def _open(self) -> Stores:
        if self._stores is None:
            raise _not_open()
        return self._stores


def _not_open() -> RuntimeError:
    return RuntimeError("the unit of work is not open; use it in a with-block")
