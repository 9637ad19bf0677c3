"""Runs the periodic jobs at their intervals until told to stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Periodic:
    name: str
    interval_seconds: float
    run: Callable[[], int]
    next_run: float = 0.0
    on_wake: bool = False  # also run as soon as the scheduler's `wake` event is set


class Scheduler:
    """Runs `jobs` at their intervals; a job marked `on_wake` also runs as soon as `wake` is
    set (cleared before the job runs, so a wake-up that comes while it runs is not lost)."""

    def __init__(
        self,
        jobs: list[Periodic],
        stop: threading.Event | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        self.jobs = jobs
        self.stop = stop or threading.Event()
        self.wake = wake or threading.Event()

    def run_pending(self) -> None:
        for job in self.jobs:
            moment = time.monotonic()
            if moment < job.next_run:
                continue
            job.next_run = moment + job.interval_seconds
            try:
                done = job.run()
            except Exception as error:
                # Our errors carry ids only and the engine hides SQL parameters.
                log.error(
                    "job %s failed: %s: %s",
                    job.name,
                    type(error).__name__,
                    error,
                    extra={"event": "job-failed", "job": job.name},
                )
                continue
            if done:
                log.debug("job %s handled %d", job.name, done)

    def run_forever(self) -> None:
        log.info("scheduler started: %s", ", ".join(job.name for job in self.jobs))
        while not self.stop.is_set():
            self.run_pending()
            wait = min(job.next_run for job in self.jobs) - time.monotonic()
            if self.wake.wait(max(0.01, wait)):
                self.wake.clear()
                for job in self.jobs:
                    if job.on_wake:
                        job.next_run = 0.0
        log.info("scheduler stopped")
