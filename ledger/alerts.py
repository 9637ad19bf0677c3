"""Alerts for people, kept in the ledger: raised once per report and kind, sent until heard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger import schema


@dataclass(frozen=True)
class Alert:
    report_id: str
    kind: str  # held, dead-lettered:<kind>, overdue, missing, …
    recipient: str | None
    state: str
    reason: str | None
    raised_at: datetime
    sent_at: datetime | None = None
    send_attempts: int = 0
    next_send_at: datetime | None = None


class AlertStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def raise_once(self, alert: Alert) -> bool:
        """Record the alert unless this report already has one of this kind; True if new."""
        insert = postgresql.insert if self._db.dialect.name == "postgresql" else sqlite.insert
        result = self._db.execute(
            insert(schema.alerts)
            .values(
                report_id=alert.report_id,
                kind=alert.kind,
                recipient=alert.recipient,
                state=alert.state,
                reason=alert.reason,
                raised_at=alert.raised_at,
                send_attempts=0,
                next_send_at=alert.raised_at,
            )
            .on_conflict_do_nothing()
            .returning(schema.alerts.c.report_id)
        )
        return result.first() is not None

    def unsent(self, now: datetime, *, limit: int = 100) -> list[Alert]:
        rows = self._db.execute(
            select(schema.alerts)
            .where(schema.alerts.c.sent_at.is_(None))
            .where(schema.alerts.c.next_send_at <= now)
            .order_by(schema.alerts.c.raised_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).mappings()
        return [Alert(**dict(row)) for row in rows]

    def mark_sent(self, alert: Alert, at: datetime) -> None:
        self._update(alert, sent_at=at, send_attempts=alert.send_attempts + 1)

    def mark_failed(self, alert: Alert, retry_at: datetime) -> None:
        self._update(alert, next_send_at=retry_at, send_attempts=alert.send_attempts + 1)

    def for_report(self, report_id: str) -> list[Alert]:
        rows = self._db.execute(
            select(schema.alerts).where(schema.alerts.c.report_id == report_id)
        ).mappings()
        return [Alert(**dict(row)) for row in rows]

    def _update(self, alert: Alert, **values: object) -> None:
        self._db.execute(
            update(schema.alerts)
            .where(schema.alerts.c.report_id == alert.report_id)
            .where(schema.alerts.c.kind == alert.kind)
            .values(**values)
        )
