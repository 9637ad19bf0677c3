"""Alerts in Alertmanager's webhook format (version 4), for RELAY_ALERT_WEBHOOK_FORMAT=
alertmanager: the body Alertmanager POSTs to a webhook receiver, so receivers built for it
(chat bridges, paging gateways) take the relay's alerts as they are. docs/alert-webhook.md
shows both formats.

Pure: an alert (or a signed checkpoint) in, a JSON-ready dict out. One alert per POST; its
group is the alert's name. Labels carry ids and kinds only, never report content.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ledger.alerts import Alert
from ledger.clock import rfc3339

VERSION = "4"
RECEIVER = "bekymring-relay"
NOT_ENDED = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt for an alert still firing
DEAD_LETTERED = "dead-lettered:"

# kind -> (alertname, what to run first); the names are the Prometheus rules' where they
# mean the same thing (deploy/prometheus/alerts.yaml).
KINDS: dict[str, tuple[str, str]] = {
    "held": ("RelayReportHeld", "relay held list; relay status {id}"),
    "overdue": ("RelayReportOverdue", "relay overdue; relay status {id}"),
    "workers-stalled": ("RelayWorkersStalled", "relay health"),
    "chain-broken": ("RelayChainBroken", "relay ledger verify; relay status {id}"),
}
DEAD_LETTER = ("RelayReportDeadLettered", "relay dlq show {id}")
OTHER = ("RelayAlert", "relay status {id}")


def alert_body(alert: Alert) -> dict[str, Any]:
    """One of the relay's alerts as an Alertmanager notification, firing."""
    name, command = _name_and_command(alert.kind)
    labels = {
        "alertname": name,
        "severity": "critical",
        "kind": alert.kind,
        "report_id": alert.report_id,
        "recipient": alert.recipient or "",
        "state": alert.state,
    }
    if alert.kind.startswith(DEAD_LETTERED):
        labels["reason"] = alert.kind.removeprefix(DEAD_LETTERED)
    annotations = {
        "summary": f"report {alert.report_id}: {alert.kind} ({alert.state})",
        "description": alert.reason or "",
        "command": command.format(id=alert.report_id),
    }
    return _notification(name, labels, annotations, alert.raised_at, None)


def checkpoint_body(checkpoint: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A signed checkpoint, for the record: an alert that is already resolved (information,
    nothing to act on), its fields as annotations."""
    name = "RelayLedgerCheckpoint"
    labels = {"alertname": name, "severity": "info", "number": str(checkpoint["number"])}
    annotations = {key: str(value) for key, value in checkpoint.items()}
    annotations["summary"] = (
        f"ledger checkpoint {checkpoint['number']}: {checkpoint['reports']} reports,"
        f" root {checkpoint['root']}"
    )
    return _notification(name, labels, annotations, at, at)


def _name_and_command(kind: str) -> tuple[str, str]:
    if kind.startswith(DEAD_LETTERED):
        return DEAD_LETTER
    return KINDS.get(kind, OTHER)


def _notification(
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    starts: datetime,
    ends: datetime | None,
) -> dict[str, Any]:
    labels = {key: value for key, value in labels.items() if value}  # Alertmanager drops ""
    status = "firing" if ends is None else "resolved"
    return {
        "version": VERSION,
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": RECEIVER,
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": rfc3339(starts),
                "endsAt": NOT_ENDED if ends is None else rfc3339(ends),
                "generatorURL": "",
                "fingerprint": fingerprint(labels),
            }
        ],
    }


def fingerprint(labels: dict[str, str]) -> str:
    """A stable id of a label set (16 hex digits, as Alertmanager's are)."""
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
