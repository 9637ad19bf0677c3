"""The unit of work: one database transaction around one step of the pipeline.

Service functions open a unit of work, read and write through its stores (`uow.ledger`,
`uow.health`, `uow.alerts`), and call `uow.commit()` once. Leaving the block without
committing rolls everything back, so a step's transition, state change and outbox row are
written together or not at all.
"""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

from sqlalchemy import Connection, Engine, RootTransaction

from ledger.alerts import AlertStore
from ledger.health import HealthStore
from ledger.repository import Ledger

T = TypeVar("T")


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._ledger: Ledger | None = None
        self._health: HealthStore | None = None
        self._alerts: AlertStore | None = None

    @property
    def ledger(self) -> Ledger:
        return _open(self._ledger)

    @property
    def health(self) -> HealthStore:
        return _open(self._health)

    @property
    def alerts(self) -> AlertStore:
        return _open(self._alerts)

    def __enter__(self) -> UnitOfWork:
        self._connection = connection = self._engine.connect()
        self._transaction = connection.begin()
        self._ledger = Ledger(connection)
        self._health = HealthStore(connection)
        self._alerts = AlertStore(connection)
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
            self._connection = self._transaction = None
            self._ledger, self._health, self._alerts = None, None, None

    def commit(self) -> None:
        _open(self._transaction).commit()


def _open(store: T | None) -> T:
    if store is None:
        raise RuntimeError("the unit of work is not open; use it in a with-block")
    return store
