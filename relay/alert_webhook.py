"""The edge where alerts leave the ledger: POSTed to RELAY_ALERT_WEBHOOK_URL until a 2xx,
in the relay's own JSON or in Alertmanager's webhook format (RELAY_ALERT_WEBHOOK_FORMAT;
docs/alert-webhook.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from ledger.alerts import Alert
from ledger.clock import rfc3339
from ledger.uow import UnitOfWork
from relay.alertmanager import alert_body
from relay.process_metrics import alert_posted

RETRY_CAP_SECONDS = 3600
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def send_alerts(
    uow_factory: Callable[[], UnitOfWork],
    http: httpx.Client,
    url: str | None,
    now: Callable[[], datetime],
    *,
    payload_format: str = "relay",
) -> int:
    """POST unsent alerts to `url`; each is retried with backoff until a 2xx."""
    payload = PAYLOADS[payload_format]
    if not url:
        return 0
    with uow_factory() as uow:
        pending = uow.alerts.unsent(now(), limit=50)
    sent = 0
    for alert in pending:
        try:
            delivered = http.post(url, json=payload(alert), timeout=TIMEOUT).is_success
        except httpx.HTTPError:
            delivered = False
        alert_posted(delivered)
        with uow_factory() as uow:
            if delivered:
                uow.alerts.mark_sent(alert, now())
                sent += 1
            else:
                delay = min(RETRY_CAP_SECONDS, 5 * 2 ** min(alert.send_attempts, 20))
                uow.alerts.mark_failed(alert, now() + timedelta(seconds=delay))
            uow.commit()
    return sent


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The relay's own format: one flat object per alert."""
    return {
        "kind": alert.kind,
        "report_id": alert.report_id,
        "recipient": alert.recipient,
        "state": alert.state,
        "reason": alert.reason,
        "raised_at": rfc3339(alert.raised_at),
    }


PAYLOADS: dict[str, Callable[[Alert], dict[str, Any]]] = {
    "relay": alert_payload,
    "alertmanager": alert_body,
}
