"""In-memory fakes that honour the real interfaces (never mocks of the thing under test)."""

from __future__ import annotations

from datetime import datetime

from deliverers.base import Delivery, DeliveryError, Receipt, StoredCopy
from ledger.records import OutboxMessage


class FakeCaseSystem:
    """A Deliverer that stores what it is sent, or raises the errors it is told to."""

    def __init__(self, *failures: DeliveryError) -> None:
        self.failures = list(failures)
        self.stored: dict[str, bytes] = {}
        self.attempts: list[str] = []

    def deliver(self, delivery: Delivery) -> Receipt:
        self.attempts.append(delivery.report_id)
        if self.failures:
            raise self.failures.pop(0)
        replay = delivery.report_id in self.stored
        self.stored.setdefault(delivery.report_id, delivery.body)
        return Receipt(
            f"SAK-{delivery.report_id[:8]}", delivery.sha256, 200 if replay else 201, replay
        )

    def read_back(self, report_id: str) -> StoredCopy | None:
        return None

    def list_since(self, since: datetime) -> set[str]:
        return set(self.stored)


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[OutboxMessage] = []

    def publish(self, message: OutboxMessage) -> None:
        self.published.append(message)
