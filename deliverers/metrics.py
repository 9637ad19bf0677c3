"""What this process did to deliver and prove: Prometheus counters and histograms.

Labels are recipient ids and outcome kinds, never anything of a report. The metrics are
made on first use, in prometheus_client's default registry (nothing happens at import
time); in a prefork worker each pool process writes its own file, summed when scraped
(`relay.metrics_http`). The ledger's gauges are read at scrape time instead
(`relay.ledger_metrics`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from prometheus_client import Counter, Histogram

from deliverers.base import Receipt, Sent, TransientError
from deliverers.outcomes import Outcome

DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# From a second (a read-back soon after the receipt) to a week (reconciliation's window).
DETECTION_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)


@dataclass(frozen=True)
class DeliveryMetrics:
    attempts: Counter
    duration: Histogram
    read_backs: Counter
    reconciliations: Counter
    false_receipts: Counter
    detection: Histogram


@cache
def delivery_metrics() -> DeliveryMetrics:
    return DeliveryMetrics(
        attempts=Counter(
            "relay_delivery_attempts",
            "Delivery attempts by recipient and outcome: delivered (a receipt proving "
            "storage), sent (handed to a mailbox, a receipt to come), transient (will be "
            "tried again), rejected (refused for good).",
            ["recipient", "outcome"],
        ),
        duration=Histogram(
            "relay_delivery_duration_seconds",
            "How long one push to a case system took.",
            ["recipient"],
            buckets=DELIVERY_BUCKETS,
        ),
        read_backs=Counter(
            "relay_readbacks",
            "Read-backs of delivered reports by result: verified, missing (not stored), "
            "mismatch (stored with another hash), receipt-only (the protocol has no "
            "read-back; the receipt is the proof), error (could not read; tried again).",
            ["recipient", "result"],
        ),
        reconciliations=Counter(
            "relay_reconciliations",
            "Reconciliations of a recipient's list by result: ok, missing (found reports it "
            "lost), error (could not list), unsupported (the protocol cannot list).",
            ["recipient", "result"],
        ),
        false_receipts=Counter(
            "relay_false_receipts",
            "Receipts found false: the case system acknowledged a report as stored with our "
            "hash, then did not hold it (or held other bytes).",
            ["recipient"],
        ),
        detection=Histogram(
            "relay_false_receipt_detection_seconds",
            "Seconds from a false receipt to its detection (read-back or reconciliation).",
            ["recipient"],
            buckets=DETECTION_BUCKETS,
        ),
    )


def outcome_kind(result: Outcome) -> str:
    if isinstance(result, Receipt):
        return "delivered"
    if isinstance(result, Sent):
        return "sent"
    if isinstance(result, TransientError):
        return "transient"
    return "rejected"  # a PermanentError, or any other DeliveryError: dead-lettered


def attempt_made(recipient: str, result: Outcome, seconds: float) -> None:
    metrics = delivery_metrics()
    metrics.attempts.labels(recipient, outcome_kind(result)).inc()
    metrics.duration.labels(recipient).observe(seconds)


def read_back(recipient: str, result: str) -> None:
    delivery_metrics().read_backs.labels(recipient, result).inc()


def reconciled(recipient: str, result: str) -> None:
    delivery_metrics().reconciliations.labels(recipient, result).inc()


def false_receipt(recipient: str, seconds_since_receipt: float) -> None:
    metrics = delivery_metrics()
    metrics.false_receipts.labels(recipient).inc()
    metrics.detection.labels(recipient).observe(max(seconds_since_receipt, 0.0))


def show_recipients(recipients: Iterable[str]) -> None:
    """Start each recipient's false-receipt series at 0, so that the first false receipt is
    an increase an alert rule sees (a series that appears at 1 shows no increase)."""
    metrics = delivery_metrics()
    for recipient in recipients:
        metrics.false_receipts.labels(recipient)
        metrics.detection.labels(recipient)
