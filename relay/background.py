"""The periodic work of a relay process, as threads: scheduler lanes and listeners.

The outbox lane publishes committed outbox rows, woken the moment one commits (in this
process by the unit of work, from others by PostgreSQL's NOTIFY) and polling as a fallback.
The pipeline lane (retries, leases, deadlines, sweeper) never waits on a case system; the
read-back lane, the breaker-check lane and the proof lane (reconciliation, alerts) may."""

from __future__ import annotations

import threading
import time

from deliverers.metrics import show_recipients
from ledger.database import is_sqlite
from relay.bootstrap import Container
from relay.celery_app import RelayCelery
from relay.outbox_wake import OutboxListener
from relay.process_metrics import alert_metrics
from relay.scheduler import Scheduler
from relay.wiring import (
    CeleryPublisher,
    breaker_check_jobs,
    outbox_jobs,
    proof_jobs,
    read_back_jobs,
    receipt_listener,
    scheduler_jobs,
)

JOIN_SECONDS = 10


class Background:
    def __init__(self, container: Container, celery: RelayCelery) -> None:
        self.container = container
        self.stop_event = threading.Event()
        publisher = CeleryPublisher(celery)
        self.lanes = [
            Scheduler(outbox_jobs(container, publisher), self.stop_event, container.outbox_ready),
            Scheduler(scheduler_jobs(container, publisher), self.stop_event),
            Scheduler(read_back_jobs(container), self.stop_event),
            Scheduler(breaker_check_jobs(container), self.stop_event),
            Scheduler(proof_jobs(container), self.stop_event),
        ]
        self.listener = receipt_listener(container)
        url = container.settings.database_url
        self.outbox_listener = (
            None if is_sqlite(url) else OutboxListener(url, container.outbox_ready)
        )
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        # Series at 0 from the start, so that the first false receipt or alert is an increase.
        show_recipients(self.container.routes.recipients)
        alert_metrics()
        targets = [(lane.run_forever, f"lane-{n}") for n, lane in enumerate(self.lanes)]
        targets.append((self.listener.run, "receipts"))
        if self.outbox_listener is not None:
            targets.append((self.outbox_listener.run, "outbox-listener"))
        for target, name in targets:
            thread = threading.Thread(target=target, daemon=True, name=name)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Ask every lane to stop and wait for them, JOIN_SECONDS in all (they are daemon
        threads: one stuck in a call past that is left behind when the process exits)."""
        self.stop_event.set()
        for lane in self.lanes:
            lane.wake.set()
        self.listener.should_stop = True
        if self.outbox_listener is not None:
            self.outbox_listener.should_stop = True
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
