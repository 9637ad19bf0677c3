"""The jobs that prove delivery and call people: read-back, reconciliation, overdue alarms
and the alert webhook. They run in their own scheduler lane, so a slow case system or
webhook never holds up the outbox."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx

from deliverers.proof import ReconcileResult, reconcile_recipient, verify_report
from ledger.alerts import Alert
from ledger.clock import rfc3339
from ledger.lifecycle import State
from ledger.records import Report
from relay.bootstrap import Container

log = logging.getLogger(__name__)

READ_BACK_THREADS = 8
ALERT_RETRY_CAP_SECONDS = 3600
ALERT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def verify_delivered(container: Container) -> int:
    """Read back every report DELIVERED at least RELAY_VERIFY_DELAY_SECONDS ago."""
    cutoff = container.now() - timedelta(seconds=container.settings.verify_delay_seconds)
    with container.uow() as uow:
        due = uow.ledger.past_due(State.DELIVERED, "updated_at", cutoff)
    if not due:
        return 0

    def verify(report_id: str) -> State | None:
        return verify_report(
            container.uow,
            report_id,
            deliverer_for=container.deliverer_for,
            receipt_mode_for=container.receipt_mode_for,
            now=container.now,
        )

    with ThreadPoolExecutor(READ_BACK_THREADS, thread_name_prefix="read-back") as pool:
        return sum(1 for moved in pool.map(verify, due) if moved is not None)


def reconcile(
    container: Container, *, since: datetime | None = None, recipient: str | None = None
) -> list[ReconcileResult]:
    """Every recipient's (or one's) list since `since` (default: the reconcile window)."""
    start = since or container.now() - timedelta(
        seconds=container.settings.reconcile_window_seconds
    )
    results = []
    for recipient_id in sorted(container.routes.recipients):
        if recipient is not None and recipient_id != recipient:
            continue
        deliverer = container.deliverer_for(recipient_id)
        if deliverer is None:
            continue
        results.append(
            reconcile_recipient(
                container.uow, recipient_id, start, deliverer=deliverer, now=container.now
            )
        )
    return results


def unverifiable(container: Container, report: Report) -> bool:
    return (
        report.state is State.DELIVERED
        and report.recipient is not None
        and container.receipt_mode_for(report.recipient) == "legacy"
    )


def overdue_reports(container: Container) -> list[Report]:
    """Reports not VERIFIED within their recipient's overdue limit (metadata only)."""
    now = container.now()
    shortest = min(
        [container.settings.overdue_after_seconds]
        + [container.overdue_after(r) for r in container.routes.recipients]
    )
    with container.uow() as uow:
        candidates = uow.ledger.unverified_since(now - timedelta(seconds=shortest))
    return [
        report
        for report in candidates
        if report.received_at <= now - timedelta(seconds=container.overdue_after(report.recipient))
        and not unverifiable(container, report)
    ]


def raise_alerts(container: Container) -> int:
    """One alert per report and kind: held, dead-lettered (by kind), overdue."""
    now = container.now()
    with container.uow() as uow:
        parked = uow.ledger.reports_in([State.HELD, State.DEAD_LETTERED], limit=10_000)
    raised = 0
    for report in parked:
        kind = "held" if report.state is State.HELD else f"dead-lettered:{report.state_kind}"
        raised += _raise(container, report, kind, report.state_reason, now)
    for report in overdue_reports(container):
        limit = container.overdue_after(report.recipient)
        reason = f"not verified {limit:g} s after it was received; now {report.state.value}"
        raised += _raise(container, report, "overdue", reason, now)
    return raised


def _raise(
    container: Container, report: Report, kind: str, reason: str | None, now: datetime
) -> int:
    alert = Alert(report.id, kind, report.recipient, report.state.value, reason, now)
    with container.uow() as uow:
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
        )
    return int(new)


def send_alerts(container: Container) -> int:
    """POST unsent alerts to RELAY_ALERT_WEBHOOK_URL; retried with backoff until a 2xx."""
    url = container.settings.alert_webhook_url
    if not url:
        return 0
    with container.uow() as uow:
        pending = uow.alerts.unsent(container.now(), limit=50)
    sent = 0
    for alert in pending:
        try:
            response = container.http.post(url, json=alert_payload(alert), timeout=ALERT_TIMEOUT)
            delivered = response.is_success
        except httpx.HTTPError:
            delivered = False
        with container.uow() as uow:
            if delivered:
                uow.alerts.mark_sent(alert, container.now())
                sent += 1
            else:
                delay = min(ALERT_RETRY_CAP_SECONDS, 5 * 2 ** min(alert.send_attempts, 20))
                uow.alerts.mark_failed(alert, container.now() + timedelta(seconds=delay))
            uow.commit()
    return sent


def alert_payload(alert: Alert) -> dict[str, str | None]:
    return {
        "kind": alert.kind,
        "report_id": alert.report_id,
        "recipient": alert.recipient,
        "state": alert.state,
        "reason": alert.reason,
        "raised_at": rfc3339(alert.raised_at),
    }
