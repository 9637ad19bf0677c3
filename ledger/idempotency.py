"""Idempotency keys: a client's key and the report its first request created, kept for a
week (`forget_old_keys`, a scheduler job)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from ledger import schema
from ledger.errors import DuplicateKey

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

KEPT_DAYS = 7


class IdempotencyStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def answer(self, client_id: str, key: str) -> tuple[str, str] | None:
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

    def remember(
        self, client_id: str, key: str, request_sha256: str, report_id: str, at: datetime
    ) -> None:
        """Raises `DuplicateKey` when a concurrent request with the key committed first;
        the transaction can then only be rolled back."""
        try:
            self._db.execute(
                schema.idempotency_keys.insert().values(
                    client_id=client_id,
                    key=key,
                    request_sha256=request_sha256,
                    report_id=report_id,
                    created_at=at,
                )
            )
        except IntegrityError:
            raise DuplicateKey(f"idempotency key of client {client_id}") from None

    def forget_before(self, cutoff: datetime) -> int:
        result = self._db.execute(
            schema.idempotency_keys.delete().where(schema.idempotency_keys.c.created_at < cutoff)
        )
        return int(result.rowcount)


def forget_old_keys(uow_factory: Callable[[], UnitOfWork], now: Callable[[], datetime]) -> int:
    with uow_factory() as uow:
        forgotten = uow.keys.forget_before(now() - timedelta(days=KEPT_DAYS))
        uow.commit()
    return forgotten
