"""The periodic work of a relay process, as threads: two scheduler lanes and the receipt
listener. The pipeline lane (outbox, retries, leases, deadlines, sweeper) never waits on a
case system; the proof lane (read-back, reconciliation, alerts) may."""

from __future__ import annotations

import threading
import time

from deliverers.metrics import show_recipients
from relay.bootstrap import Container
from relay.celery_app import RelayCelery
from relay.process_metrics import alert_metrics
from relay.scheduler import Scheduler
from relay.wiring import CeleryPublisher, proof_jobs, receipt_listener, scheduler_jobs

JOIN_SECONDS = 10


class Background:
    def __init__(self, container: Container, celery: RelayCelery) -> None:
        self.container = container
        self.stop_event = threading.Event()
        self.lanes = [
            Scheduler(scheduler_jobs(container, CeleryPublisher(celery)), self.stop_event),
            Scheduler(proof_jobs(container), self.stop_event),
        ]
        self.listener = receipt_listener(container)
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        # Series at 0 from the start, so that the first false receipt or alert is an increase.
        show_recipients(self.container.routes.recipients)
        alert_metrics()
        targets = [(lane.run_forever, f"lane-{n}") for n, lane in enumerate(self.lanes)]
        targets.append((self.listener.run, "receipts"))
        for target, name in targets:
            thread = threading.Thread(target=target, daemon=True, name=name)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Ask every lane to stop and wait for them, JOIN_SECONDS in all (they are daemon
        threads: one stuck in a call past that is left behind when the process exits)."""
        self.stop_event.set()
        self.listener.should_stop = True
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
