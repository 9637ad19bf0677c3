"""`relay run`: intake API, a worker, the outbox relay and the periodic jobs in one process.

The Celery worker owns the main thread (it handles the signals); the API and the scheduler
run in threads beside it and stop when it stops.
"""

from __future__ import annotations

import logging

from relay.background import Background
from relay.bootstrap import Container
from relay.celery_app import create_celery, worker_queues
from relay.servers import ServerThread, bind
from relay.wiring import intake_app

log = logging.getLogger(__name__)


def run_embedded(container: Container, host: str, port: int) -> None:
    settings = container.settings
    celery = create_celery(settings)
    celery.use_container(container)
    background = Background(container, celery)
    api = ServerThread(intake_app(container), bind(host, port), log_level="info")
    api.start()
    background.start()
    log.info("intake API listening on %s", api.url)
    try:
        celery.worker_main(worker_argv(settings.worker_concurrency, pool="threads"))
    finally:
        background.stop()
        api.stop()
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
