"""Vendor "fiks-io": an asynchronous mailbox with receipts, per `docs/fiks-io-mailbox.md`.

The report goes, as the same bytes as the rest-json body, to the recipient's durable queue
`fiksio.konto.<konto-id>` on the relay's own broker; the recipient answers later on our
`svar-til` queue (see `deliverers/receipts.py`). Delivering therefore returns `Sent`, and
the ledger keeps the receipt deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from kombu.connection import Connection
from kombu.entity import Queue
from kombu.messaging import Producer

from deliverers.base import Delivery, Sent, StoredCopy, TransientError

SCHEME = "fiksio://"
MOTTATT = "no.ks.fiks.bekymringsmelding.mottatt.v1"
FEILET = "no.ks.fiks.bekymringsmelding.feilet.v1"
TIDSAVBRUDD = "no.ks.fiks.kvittering.tidsavbrudd"


def konto_queue(konto_id: str) -> str:
    return f"fiksio.konto.{konto_id}"


def konto_from_endpoint(endpoint: str) -> str:
    if not endpoint.startswith(SCHEME) or len(endpoint) == len(SCHEME):
        raise ValueError(f"a fiks-io endpoint looks like {SCHEME}<konto-id>, not {endpoint!r}")
    return endpoint[len(SCHEME) :]


class Unsupported(Exception):
    """This vendor's protocol has no such operation."""


class Mailbox(Protocol):
    def send(self, queue: str, body: bytes, headers: Mapping[str, str], ttl_seconds: int) -> None:
        """Put one persistent message on a durable queue, confirmed where the broker can."""
        ...


class KombuMailbox:
    def __init__(self, connection: Connection) -> None:
        self._pool = connection.Pool(limit=8)

    def send(self, queue: str, body: bytes, headers: Mapping[str, str], ttl_seconds: int) -> None:
        declared = Queue(queue, durable=True, routing_key=queue)
        with self._pool.acquire(block=True, timeout=10) as connection:
            producer = Producer(connection.default_channel)
            producer.publish(
                body,
                exchange="",
                routing_key=queue,
                declare=[declared],
                headers=dict(headers),
                content_type="application/json",
                content_encoding="binary",
                delivery_mode=2,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            )

    def close(self) -> None:
        self._pool.force_close_all()


class FiksIoDeliverer:
    def __init__(self, konto_id: str, *, mailbox: Mailbox, reply_to: str, ttl_seconds: int) -> None:
        self._queue = konto_queue(konto_id)
        self._mailbox = mailbox
        self._reply_to = reply_to
        self._ttl = ttl_seconds

    def deliver(self, delivery: Delivery) -> Sent:
        message_id = str(uuid.uuid4())
        headers = {
            "type": delivery.meldingstype,
            "melding-id": message_id,
            "klient-melding-id": delivery.report_id,
            "svar-til": self._reply_to,
            "ttl": str(self._ttl),
        }
        try:
            self._mailbox.send(self._queue, delivery.body, headers, self._ttl)
        except Exception as error:  # the broker's many error types; the attempt failed
            raise TransientError(f"mailbox send failed ({type(error).__name__})") from None
        return Sent(message_id)

    def read_back(self, report_id: str) -> StoredCopy | None:
        raise Unsupported("fiks-io has no read-back; the receipt's sha256 is the proof")

    def list_since(self, since: datetime) -> set[str]:
        raise Unsupported("fiks-io has no listing; reconcile such recipients another way")
