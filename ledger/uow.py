"""The unit of work: one database transaction around one step of the pipeline.

Service functions open a unit of work, read and write through `uow.ledger`, and call
`uow.commit()` once. Leaving the block without committing rolls everything back, so a step's
transition, state change and outbox row are written together or not at all.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine, RootTransaction

from ledger.alerts import AlertStore
from ledger.health import HealthStore
from ledger.repository import Ledger


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
        if self._ledger is None:
            raise RuntimeError("the unit of work is not open; use it in a with-block")
        return self._ledger

    @property
    def health(self) -> HealthStore:
        if self._health is None:
            raise RuntimeError("the unit of work is not open; use it in a with-block")
        return self._health

    @property
    def alerts(self) -> AlertStore:
        if self._alerts is None:
            raise RuntimeError("the unit of work is not open; use it in a with-block")
        return self._alerts

    def __enter__(self) -> UnitOfWork:
        self._connection = self._engine.connect()
        self._transaction = self._connection.begin()
        self._ledger = Ledger(self._connection)
        self._health = HealthStore(self._connection)
        self._alerts = AlertStore(self._connection)
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
            self._ledger = None
            self._health = None
            self._alerts = None

    def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("the unit of work is not open")
        self._transaction.commit()
