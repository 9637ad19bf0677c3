"""Wiring the packages together: the intake app, the publisher and the scheduler's jobs."""

from __future__ import annotations

from fastapi import FastAPI

from deliverers.fiks_io import konto_queue
from deliverers.receipts import IncomingReceipt, handle_receipt
from intake.api import IntakeConfig, create_intake_app
from ledger.records import OutboxMessage
from relay.bootstrap import Container
from relay.broker import broker_connection
from relay.celery_app import RelayCelery
from relay.jobs import (
    enforce_receipt_deadlines,
    forget_old_idempotency_keys,
    publish_outbox,
    recover_abandoned_attempts,
    release_due_retries,
    sweep_stalled,
)
from relay.proof_jobs import raise_alerts, reconcile, send_alerts, verify_delivered
from relay.receipts import ReceiptListener
from relay.scheduler import Periodic

PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


class CeleryPublisher:
    def __init__(self, app: RelayCelery) -> None:
        self._app = app

    def publish(self, message: OutboxMessage) -> None:
        self._app.send_task(
            f"relay.{message.task}",
            args=[message.report_id],
            queue=message.queue,
            retry=True,
            retry_policy=PUBLISH_RETRY,
        )


def intake_app(container: Container) -> FastAPI:
    settings = container.settings
    return create_intake_app(
        IntakeConfig(
            uow_factory=container.uow,
            tokens=settings.client_tokens(),
            max_body_bytes=settings.max_body_bytes,
            now=container.now,
        )
    )


def scheduler_jobs(container: Container, publisher: CeleryPublisher) -> list[Periodic]:
    settings = container.settings
    tick = settings.scheduler_tick_seconds
    return [
        Periodic(
            "outbox",
            settings.outbox_poll_seconds,
            lambda: publish_outbox(container.uow, publisher, container.now),
        ),
        Periodic(
            "retries",
            tick,
            lambda: release_due_retries(container.uow, container.now, container.control_for),
        ),
        Periodic(
            "abandoned-attempts",
            tick,
            lambda: recover_abandoned_attempts(container.uow, container.now),
        ),
        Periodic(
            "receipt-deadlines",
            tick,
            lambda: enforce_receipt_deadlines(
                container.uow, container.now, container.control_for, container.jitter
            ),
        ),
        Periodic(
            "sweeper",
            tick * 5,
            lambda: sweep_stalled(container.uow, container.now, settings.sweep_after_seconds),
        ),
        Periodic(
            "idempotency-keys",
            3600,
            lambda: forget_old_idempotency_keys(container.uow, container.now),
        ),
    ]


def receipt_listener(container: Container) -> ReceiptListener:
    settings = container.settings

    def handle(receipt: IncomingReceipt) -> object:
        return handle_receipt(
            container.uow,
            receipt,
            control_for=container.control_for,
            receipt_mode_for=container.receipt_mode_for,
            now=container.now,
            jitter=container.jitter,
        )

    connection = broker_connection(settings.broker_url, settings.broker_key_prefix)
    return ReceiptListener(connection, konto_queue(settings.fiksio_konto), handle)


def proof_jobs(container: Container) -> list[Periodic]:
    settings = container.settings
    tick = settings.scheduler_tick_seconds
    return [
        Periodic("read-back", tick, lambda: verify_delivered(container)),
        Periodic(
            "reconcile",
            settings.reconcile_interval_seconds,
            lambda: sum(len(result.missing) for result in reconcile(container)),
        ),
        Periodic("alerts", tick * 5, lambda: raise_alerts(container)),
        Periodic("alert-webhook", tick * 2, lambda: send_alerts(container)),
    ]
