"""In-memory fakes that honour the real interfaces (never mocks of the thing under test)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from deliverers.base import Delivery, DeliveryError, Receipt, Sent, StoredCopy
from deliverers.fiks_io import Unsupported
from ledger.records import OutboxMessage


class FakeCaseSystem:
    """A Deliverer that stores what it is sent and reads it back, or raises the errors it is
    told to. `lose` and `damage` do to a stored copy what a faulty case system might."""

    def __init__(self, *failures: DeliveryError) -> None:
        self.failures = list(failures)
        self.stored: dict[str, bytes] = {}
        self.deliveries: list[Delivery] = []  # every attempt that reached it, failed or not

    @property
    def attempts(self) -> list[str]:
        return [delivery.report_id for delivery in self.deliveries]

    def deliver(self, delivery: Delivery) -> Receipt | Sent:
        self.deliveries.append(delivery)
        if self.failures:
            raise self.failures.pop(0)
        replay = delivery.report_id in self.stored
        self.stored.setdefault(delivery.report_id, delivery.body)
        return Receipt(
            self.saksreferanse(delivery.report_id),
            delivery.sha256,
            200 if replay else 201,
            replay,
        )

    def read_back(self, report_id: str) -> StoredCopy | None:
        body = self.stored.get(report_id)
        if body is None:
            return None
        return StoredCopy(self.saksreferanse(report_id), hashlib.sha256(body).hexdigest())

    def list_since(self, since: datetime) -> set[str]:
        return set(self.stored)

    def saksreferanse(self, report_id: str) -> str:
        return f"SAK-{report_id[:8]}"

    def lose(self, report_id: str) -> None:
        """Forget a stored report (it acknowledged it, then lost it)."""
        del self.stored[report_id]

    def damage(self, report_id: str) -> None:
        """Keep only the first half of a stored report (a truncated write)."""
        body = self.stored[report_id]
        self.stored[report_id] = body[: len(body) // 2]


class FakeMailbox(FakeCaseSystem):
    """A fiks-io-like recipient: takes the report and answers later with a receipt. Like
    fiks-io it can neither read a report back nor list what it holds."""

    def deliver(self, delivery: Delivery) -> Receipt | Sent:
        super().deliver(delivery)
        return Sent(f"message-{len(self.deliveries)}")

    def read_back(self, report_id: str) -> StoredCopy | None:
        raise Unsupported("a mailbox has no read-back")

    def list_since(self, since: datetime) -> set[str]:
        raise Unsupported("a mailbox has no listing")


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[OutboxMessage] = []

    def publish(self, message: OutboxMessage) -> None:
        self.published.append(message)
