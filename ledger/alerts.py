"""Alerts for people, kept in the ledger: raised once per report and kind, sent until heard.

`raise_alerts` (a scheduler job) raises one per held, dead-lettered and overdue report and
logs it at ERROR; the webhook that sends them is at the edge (`relay.alert_webhook`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger import schema
from ledger.lifecycle import State
from ledger.records import Report

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)


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


def alert_fields(alert: Alert) -> dict[str, str | None]:
    """The fields of an alert's log line (`extra=`)."""
    return {
        "report_id": alert.report_id,
        "recipient": alert.recipient,
        "state": alert.state,
        "event": "alert",
        "alert": alert.kind,
    }


@dataclass(frozen=True)
class OverdueLimits:
    """How long a report may take from RECEIVED to VERIFIED, per recipient."""

    default_seconds: float
    by_recipient: Mapping[str, float] = field(default_factory=dict)
    unverifiable: frozenset[str] = frozenset()  # recipients whose receipts prove nothing

    def limit_for(self, recipient: str | None) -> float:
        return self.by_recipient.get(recipient or "", self.default_seconds)

    def shortest(self) -> float:
        return min([self.default_seconds, *self.by_recipient.values()])

    def is_overdue(self, report: Report, now: datetime) -> bool:
        """Not VERIFIED within its limit; a legacy recipient's DELIVERED report is never
        overdue (it can never be verified: people and reconciliation watch those)."""
        if report.state is State.DELIVERED and report.recipient in self.unverifiable:
            return False
        return report.received_at <= now - timedelta(seconds=self.limit_for(report.recipient))


def overdue_reports(
    uow_factory: Callable[[], UnitOfWork], limits: OverdueLimits, now: datetime
) -> list[Report]:
    """Reports not VERIFIED within their recipient's overdue limit (metadata only)."""
    with uow_factory() as uow:
        candidates = uow.queries.unverified_since(now - timedelta(seconds=limits.shortest()))
    return [report for report in candidates if limits.is_overdue(report, now)]


def raise_alerts(
    uow_factory: Callable[[], UnitOfWork], limits: OverdueLimits, now: datetime
) -> int:
    """One alert per report and kind: held, dead-lettered (by kind), overdue."""
    with uow_factory() as uow:
        parked = uow.queries.reports_in([State.HELD, State.DEAD_LETTERED], limit=10_000)
    raised = 0
    for report in parked:
        kind = "held" if report.state is State.HELD else f"dead-lettered:{report.state_kind}"
        raised += _raise(uow_factory, report, kind, report.state_reason, now)
    for report in overdue_reports(uow_factory, limits, now):
        limit = limits.limit_for(report.recipient)
        reason = f"not verified {limit:g} s after it was received; now {report.state.value}"
        raised += _raise(uow_factory, report, "overdue", reason, now)
    return raised


def raise_stall_alert(
    uow_factory: Callable[[], UnitOfWork], now: datetime, stall_seconds: float
) -> int:
    """No worker has consumed a heartbeat for `stall_seconds` while reports wait for one:
    one alert, on the report that has waited longest (and logged at CRITICAL)."""
    cutoff = now - timedelta(seconds=stall_seconds)
    with uow_factory() as uow:
        consumed = uow.heartbeats.last_consumed()
        sent = uow.heartbeats.last("scheduler")
        waiting = uow.queries.stalled([State.RECEIVED, State.ROUTED], cutoff, limit=1)
        oldest = uow.reports.get(waiting[0]) if waiting else None
    if oldest is None or sent is None or sent < cutoff or (consumed and consumed >= cutoff):
        return 0
    silent = "never" if consumed is None else f"not since {consumed.isoformat()}"
    reason = (
        f"no worker has taken a heartbeat from the broker for {stall_seconds:g} s"
        f" ({silent}) while reports wait; check the workers (relay health)"
    )
    new = _raise(uow_factory, oldest, "workers-stalled", reason, now)
    if new:
        log.critical("workers stalled: %s", reason, extra={"event": "workers-stalled"})
    return new


def _raise(
    uow_factory: Callable[[], UnitOfWork],
    report: Report,
    kind: str,
    reason: str | None,
    now: datetime,
) -> int:
    alert = Alert(report.id, kind, report.recipient, report.state.value, reason, now)
    with uow_factory() as uow:
        new = uow.alerts.raise_once(alert)
        uow.commit()
    if new:
        log.error(
            "ALERT %s: report %s (recipient %s, %s): %s",
            kind,
            report.id,
            report.recipient,
            report.state.value,
            reason,
            extra=alert_fields(alert),
        )
    return int(new)
