"""`relay run`: intake API, a worker, the outbox relay and the periodic jobs in one process.

The Celery worker owns the main thread (it handles the signals); the API and the scheduler
run in threads beside it and stop when it stops.
"""

from __future__ import annotations

import logging
import threading

from celery.worker import state as worker_state

from relay.background import Background
from relay.bootstrap import Container
from relay.celery_app import EXIT_WEDGED, create_celery, worker_argv
from relay.servers import ServerThread, bind
from relay.watchdog import Wedged
from relay.wiring import intake_app

log = logging.getLogger(__name__)


def run_embedded(container: Container, host: str, port: int) -> None:
    settings = container.settings
    celery = create_celery(settings)
    celery.use_container(container)
    restart = threading.Event()

    def restart_consumer(_wedged: Wedged) -> None:
        restart.set()
        worker_state.should_stop = EXIT_WEDGED  # the worker's loop stops, then starts again

    node = celery.watch("embedded", restart_consumer)
    background = Background(container, celery)
    api = ServerThread(intake_app(container), bind(host, port), log_level="info")
    api.start()
    background.start()
    log.info("intake API listening on %s", api.url)
    try:
        while True:
            celery.worker_main(
                worker_argv(
                    settings.worker_concurrency,
                    pool="threads",
                    node=node,
                    quiet=settings.log_format == "json",
                    log_level=settings.log_level,
                )
            )
            if not restart.is_set():
                break
            restart.clear()
            worker_state.should_stop = None
            log.critical("the worker stopped taking messages; its consumer was restarted")
    finally:
        background.stop()
        api.stop()
        container.close()
