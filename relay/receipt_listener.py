"""The receipt listener: consumes our fiks-io `svar-til` queue and records each receipt.

A receipt is acknowledged to the broker only after the ledger has committed what it means;
one that cannot be recorded now is requeued and tried again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kombu.connection import Connection
from kombu.entity import Queue
from kombu.message import Message
from kombu.messaging import Consumer
from kombu.mixins import ConsumerMixin

from deliverers.receipts import IncomingReceipt

log = logging.getLogger(__name__)

REQUEUE_PAUSE_SECONDS = 1.0


class ReceiptListener(ConsumerMixin):
    # kombu retries a lost connection forever by default, deaf to `should_stop`; give up a
    # round after a few tries instead, so that the listener stops when told to.
    connect_max_retries = 3  # type: ignore[assignment]  # kombu annotates it None

    def __init__(
        self, connection: Connection, queue: str, handle: Callable[[IncomingReceipt], object]
    ) -> None:
        self.connection = connection
        self.queue = queue
        self.handle = handle

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        """Consume until `should_stop`, reconnecting after any broker loss."""
        while not self.should_stop:
            try:
                super().run(_tokens, **kwargs)
            except Exception as error:  # the broker stayed away for a whole round
                log.warning("receipt listener: broker unreachable (%s)", type(error).__name__)
                time.sleep(REQUEUE_PAUSE_SECONDS)

    def get_consumers(self, consumer_cls: Callable[..., Consumer], channel: Any) -> list[Consumer]:
        queue = Queue(self.queue, durable=True, routing_key=self.queue)
        return [consumer_cls(queues=[queue], on_message=self.on_message, prefetch_count=10)]

    def on_message(self, message: Message) -> None:
        headers = message.headers or {}
        report_id, kind = headers.get("svar-paa-melding"), headers.get("type")
        if not isinstance(report_id, str) or not isinstance(kind, str):
            log.warning("receipt without svar-paa-melding or type dropped")
            message.ack()
            return
        try:
            self.handle(IncomingReceipt(report_id, kind, message.body or b""))
        except Exception as error:
            log.error(
                "receipt %s for report %s not recorded (%s); requeued",
                kind,
                report_id,
                type(error).__name__,
                extra={"report_id": report_id, "event": "receipt-not-recorded"},
            )
            message.requeue()
            time.sleep(REQUEUE_PAUSE_SECONDS)
            return
        message.ack()
