"""Wiring the packages together: the intake app, the publisher, and the table of the
scheduler's jobs (what runs when). The jobs' bodies live in the domain packages; each takes
plain callables and values from the container."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from fastapi import FastAPI

from deliverers.fiks_io import konto_queue
from deliverers.liveness import check_open_breakers
from deliverers.proof import ReconcileResult, read_back_wait, reconcile, verify_delivered
from deliverers.receipts import IncomingReceipt, handle_receipt
from deliverers.scheduled import (
    enforce_receipt_deadlines,
    recover_abandoned_attempts,
    release_due_retries,
)
from intake.api import IntakeConfig, create_intake_app
from ledger.alerts import raise_alerts, raise_stall_alert
from ledger.group_commit import GroupCommit
from ledger.idempotency import forget_old_keys
from ledger.outbox import RouteGate, publish_outbox, sweep_stalled
from ledger.records import OutboxMessage
from ledger.topology import HEARTBEAT_TASK, task_name
from relay.alert_webhook import send_alerts
from relay.bootstrap import ROUTE_MESSAGE_GAP_SECONDS, Container
from relay.broker import broker_connection, forget_taken_messages
from relay.celery_app import RelayCelery, worker_queues
from relay.console.app import mount_console
from relay.metrics_http import add_metrics
from relay.preflight import broker_problem, ledger_problem
from relay.privacy import chain_watch_job, checkpoint_job, retention_job
from relay.receipt_listener import ReceiptListener
from relay.scheduler import Periodic
from relay.watchdog import identity, send_heartbeats

PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


class CeleryPublisher:
    def __init__(self, app: RelayCelery) -> None:
        self._app = app

    def publish(self, message: OutboxMessage) -> None:
        self._app.send_task(
            task_name(message.task),
            args=[message.report_id],
            queue=message.queue,
            retry=True,
            retry_policy=PUBLISH_RETRY,
        )

    def heartbeat(self, queue: str, sent_at: str) -> None:
        self._app.send_task(
            HEARTBEAT_TASK, args=[sent_at], queue=queue, retry=True, retry_policy=PUBLISH_RETRY
        )


def intake_app(container: Container) -> FastAPI:
    """The intake API, with its requests counted, `/metrics` served beside it, and the
    operators' console under `/console` (`relay.console`)."""
    settings = container.settings

    def readiness() -> str | None:
        return ledger_problem(container.engine) or broker_problem(settings)

    app = create_intake_app(
        IntakeConfig(
            uow_factory=container.uow,
            tokens=settings.client_tokens(),
            max_body_bytes=settings.max_body_bytes,
            now=container.now,
            readiness=readiness,
            group_commit=GroupCommit(container.uow),
        )
    )
    return mount_console(add_metrics(app, container), container)


OUTBOX_BATCH = 200
# The read-back lane's passes are this far apart at least: a delivery is read back within
# this of its verify delay, and those due meanwhile together.
READ_BACK_GAP_SECONDS = 0.1


def outbox_jobs(container: Container, publisher: CeleryPublisher) -> list[Periodic]:
    """The outbox lane: run as soon as a row commits (`Background`), else every
    RELAY_OUTBOX_POLL_SECONDS; a full batch is followed by the next at once."""
    c = container
    # One route message a pass, and ROUTE_MESSAGE_GAP_SECONDS apart, for the reports still
    # RECEIVED: its task routes them along, ROUTE_ALONG at a time for up to ROUTE_ON_SECONDS
    # (`Container.route`).
    gate = RouteGate(ROUTE_MESSAGE_GAP_SECONDS)

    def publish() -> int:
        return publish_outbox(
            c.uow, publisher, c.now, batch=OUTBOX_BATCH, route_every=OUTBOX_BATCH, route_gate=gate
        )

    def publish_all() -> int:
        gate.held_back = False
        published = total = publish()
        while published == OUTBOX_BATCH:
            published = publish()
            total += published
        if gate.held_back:  # its message goes as the gate opens, not a poll later
            job.next_run = min(job.next_run, gate.opens_at)
        return total

    job = Periodic("outbox", c.settings.outbox_poll_seconds, publish_all, on_wake=True)
    return [job]


def scheduler_jobs(container: Container, publisher: CeleryPublisher) -> list[Periodic]:
    """The pipeline lane: never waits on a case system."""
    c, settings = container, container.settings
    tick, beat = settings.scheduler_tick_seconds, settings.heartbeat_seconds
    me = identity("scheduler", c.now())
    return [
        Periodic(
            "heartbeats",
            beat,
            lambda: send_heartbeats(
                c.uow, publisher.heartbeat, worker_queues(), me, c.now, c.routes_in_force
            ),
        ),
        Periodic(
            "worker-watch",
            beat,
            lambda: raise_stall_alert(c.uow, c.now(), settings.worker_stall_seconds),
        ),
        Periodic("retries", tick, lambda: release_due_retries(c.uow, c.now, c.control_for)),
        Periodic("abandoned-attempts", tick, lambda: recover_abandoned_attempts(c.uow, c.now)),
        Periodic(
            "receipt-deadlines",
            tick,
            lambda: enforce_receipt_deadlines(c.uow, c.now, c.control_for, c.jitter),
        ),
        Periodic(
            "sweeper", tick * 5, lambda: sweep_stalled(c.uow, c.now, settings.sweep_after_seconds)
        ),
        Periodic("idempotency-keys", 3600, lambda: forget_old_keys(c.uow, c.now)),
        Periodic("broker-taken-messages", 600, lambda: forget_taken_messages(settings.broker_url)),
    ]


def read_back_jobs(container: Container) -> list[Periodic]:
    """The read-back lane: looks again when the next delivery comes due (asked with each
    look: one indexed query), READ_BACK_GAP_SECONDS after its last look at the soonest and
    a scheduler tick at the latest; may wait on case systems, so it has a lane of its own."""
    c, settings = container, container.settings

    def look() -> int:
        done = verify_delivered(
            c.uow,
            verify_delay_seconds=settings.verify_delay_seconds,
            deliverer_for=c.deliverer_for,
            receipt_mode_for=c.receipt_mode_for,
            now=c.now,
            unverifiable=c.unverifiable(),
        )
        tick = settings.scheduler_tick_seconds
        wait = read_back_wait(done.next_due, c.now(), min(READ_BACK_GAP_SECONDS, tick), tick)
        job.next_run = time.monotonic() + wait
        return done.moved

    job = Periodic("read-back", settings.scheduler_tick_seconds, look)
    return [job]


BREAKER_CHECK_POLL_SECONDS = 1.0  # each recipient is checked every BreakerPolicy.check_seconds


def breaker_check_jobs(container: Container) -> list[Periodic]:
    """The breaker-check lane: asks each recipient whose breaker is open whether it answers
    (`deliverers.liveness`), so a returned one gets its probe within seconds. It waits on
    case systems, so it has a lane of its own."""
    c = container
    return [
        Periodic(
            "breaker-checks",
            BREAKER_CHECK_POLL_SECONDS,
            lambda: check_open_breakers(c.uow, c.now, c.control_for, c.deliverer_for),
        )
    ]


def proof_jobs(container: Container) -> list[Periodic]:
    """The proof lane: reconciliation and alerts; may wait on case systems. Also
    retention, the chain watch and signed checkpoints (`relay.privacy`)."""
    c, settings = container, container.settings
    tick = settings.scheduler_tick_seconds
    checkpoint = checkpoint_job(c)
    return [
        Periodic(
            "reconcile",
            settings.reconcile_interval_seconds,
            lambda: sum(len(result.missing) for result in reconcile_recipients(c)),
        ),
        Periodic("alerts", tick * 5, lambda: raise_alerts(c.uow, c.overdue_limits(), c.now())),
        Periodic(
            "alert-webhook",
            tick * 2,
            lambda: send_alerts(
                c.uow,
                c.http,
                settings.alert_webhook_url,
                c.now,
                payload_format=settings.alert_webhook_format,
            ),
        ),
        Periodic("retention", settings.retention_interval_seconds, retention_job(c)),
        Periodic("chain-watch", settings.chain_check_interval_seconds, chain_watch_job(c)),
        *(
            [Periodic("checkpoint", settings.checkpoint_interval_seconds, checkpoint)]
            if checkpoint
            else []
        ),
    ]


def reconcile_recipients(
    container: Container, *, since: datetime | None = None, recipient: str | None = None
) -> list[ReconcileResult]:
    """Every recipient's (or one's) list since `since` (default: the reconcile window)."""
    window = timedelta(seconds=container.settings.reconcile_window_seconds)
    recipients = [r for r in container.routes.recipients if recipient in (None, r)]
    return reconcile(
        container.uow,
        recipients,
        since or container.now() - window,
        deliverer_for=container.deliverer_for,
        now=container.now,
    )


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
