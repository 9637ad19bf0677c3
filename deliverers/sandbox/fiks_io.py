"""A simulated fiks-io recipient: takes reports from its mailbox queue, stores them, and
answers `mottatt` (or `feilet`) on the sender's `svar-til` queue, with the faults it is given."""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kombu.connection import Connection
from kombu.entity import Queue
from kombu.message import Message
from kombu.messaging import Consumer, Producer
from kombu.mixins import ConsumerMixin

from deliverers.fiks_io import FEILET, MOTTATT, konto_queue
from deliverers.sandbox.faults import Faults
from deliverers.sandbox.store import SandboxStore
from ledger.digest import sha256_hex
from router.routes import ReceiptMode

log = logging.getLogger(__name__)


@dataclass
class FiksIoSandboxConfig:
    konto: str
    receipt: ReceiptMode = ReceiptMode.STRICT  # LEGACY: an empty mottatt, as old systems send
    faults: Faults = field(default_factory=Faults)


class FiksIoSandbox(ConsumerMixin):
    def __init__(
        self, connection: Connection, config: FiksIoSandboxConfig, store: SandboxStore
    ) -> None:
        self.connection = connection
        self.config = config
        self.store = store
        self.received: Counter[str] = Counter()

    def get_consumers(self, consumer_cls: Callable[..., Consumer], channel: Any) -> list[Consumer]:
        queue = konto_queue(self.config.konto)
        return [
            consumer_cls(
                queues=[Queue(queue, durable=True, routing_key=queue)],
                on_message=self.on_message,
                prefetch_count=1,
            )
        ]

    def on_message(self, message: Message) -> None:
        headers = message.headers or {}
        report_id = headers.get("klient-melding-id")
        reply_to = headers.get("svar-til")
        if not report_id or not reply_to:
            log.warning("fiks-io sandbox: message without klient-melding-id or svar-til dropped")
            message.ack()
            return
        self.received[report_id] += 1
        body: bytes = message.body
        now = datetime.now(UTC)
        envelope = json.loads(body)
        refusal = self.config.faults.refusal(envelope["mottaker"])
        if refusal:
            self.store.record_post(report_id, 422, now)
            melding = {"melding": f"{refusal} (simulated)"}
            self._reply(reply_to, FEILET, report_id, json.dumps(melding).encode())
            message.ack()
            return
        mottatt = (
            datetime.fromisoformat(envelope["mottatt"])
            .astimezone(UTC)
            .isoformat(timespec="microseconds")
        )
        stored, created = self.store.store(report_id, sha256_hex(body), body, mottatt, now)
        self.store.record_post(report_id, 201 if created else 200, now)
        if self.received[report_id] > self.config.faults.silent_attempts:
            proof = {"saksreferanse": stored.saksreferanse, "sha256": stored.sha256}
            receipt = (
                json.dumps(proof).encode() if self.config.receipt is ReceiptMode.STRICT else b""
            )
            self._reply(reply_to, MOTTATT, report_id, receipt)
        message.ack()

    def _reply(self, queue: str, kind: str, report_id: str, body: bytes) -> None:
        producer = Producer(self.connection.default_channel)
        producer.publish(
            body,
            exchange="",
            routing_key=queue,
            declare=[Queue(queue, durable=True, routing_key=queue)],
            headers={"type": kind, "svar-paa-melding": report_id, "melding-id": str(uuid.uuid4())},
            content_type="application/json",
            content_encoding="binary",
            delivery_mode=2,
        )
