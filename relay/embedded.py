"""`relay run`: intake API, a worker, the outbox relay and the periodic jobs in one process.

The Celery worker owns the main thread (it handles the signals); the API and the scheduler
run in threads beside it and stop when it stops.
"""

from __future__ import annotations

import logging
import threading

from relay.bootstrap import Container
from relay.celery_app import create_celery, worker_queues
from relay.scheduler import Scheduler
from relay.servers import ServerThread, bind
from relay.wiring import CeleryPublisher, intake_app, scheduler_jobs, start_receipt_listener

log = logging.getLogger(__name__)


def run_embedded(container: Container, host: str, port: int) -> None:
    settings = container.settings
    celery = create_celery(settings)
    celery.use_container(container)
    scheduler = Scheduler(scheduler_jobs(container, CeleryPublisher(celery)))
    scheduler_thread = threading.Thread(target=scheduler.run_forever, daemon=True, name="scheduler")
    api = ServerThread(intake_app(container), bind(host, port), log_level="info")
    api.start()
    scheduler_thread.start()
    receipts, receipts_thread = start_receipt_listener(container)
    log.info("intake API listening on %s", api.url)
    try:
        celery.worker_main(worker_argv(settings.worker_concurrency, pool="threads"))
    finally:
        scheduler.stop.set()
        receipts.should_stop = True
        api.stop()
        scheduler_thread.join(timeout=10)
        receipts_thread.join(timeout=10)
        container.close()


def worker_argv(concurrency: int, *, pool: str, queues: list[str] | None = None) -> list[str]:
    return [
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        "--queues=" + ",".join(queues or worker_queues()),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    ]
