"""The Celery app: settings for no loss, one queue per stage and vendor, and the tasks.

Tasks take a report id and nothing else; the ledger holds everything they need. A task
that finds its report in another state than it expects does nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

import billiard.process
from celery import Celery, signals
from kombu.entity import Exchange, Queue
from sqlalchemy.exc import OperationalError

from deliverers.registry import VENDORS
from deliverers.stage import deliver_report
from ledger.clock import utc_now
from ledger.database import once_more_if_lost
from ledger.heartbeats import Beat
from ledger.topology import DELIVER_TASK, HEARTBEAT_TASK, ROUTE_QUEUE, ROUTE_TASK, queues_for
from relay.bootstrap import Container, bootstrap, live_routes
from relay.broker import celery_broker_config
from relay.logs import celery_in_json
from relay.settings import Settings
from relay.watchdog import Watchdog, Wedged, identity
from router.live import LiveRoutes, RoutesInForce

EXIT_WEDGED = 3  # the exit status of a worker its watchdog found wedged

log = logging.getLogger(__name__)

# Below the delivery lease (RELAY_DELIVERY_LEASE_SECONDS, default 90) and far below
# Redis's visibility timeout (3600), so a task is killed before its attempt counts as lost.
TASK_TIME_LIMIT_SECONDS = 75


def worker_queues() -> list[str]:
    """Every queue a worker consumes: routing and each known vendor's deliveries."""
    return queues_for(VENDORS)


def worker_argv(
    concurrency: int,
    *,
    pool: str,
    node: str,
    queues: list[str] | None = None,
    quiet: bool = False,
    log_level: str = "INFO",
) -> list[str]:
    """`quiet`: without Celery's start-up banner (it is printed, not logged). `log_level`:
    RELAY_LOG_LEVEL (at INFO Celery logs every task it receives and finishes)."""
    return [
        *(["--quiet"] if quiet else []),
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--hostname={node}",
        "--queues=" + ",".join(queues or worker_queues()),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--loglevel={log_level}",
    ]


def task_queues(broker_url: str) -> list[Queue]:
    """Durable queues on the default exchange: a message is routed by the queue's name alone,
    so it arrives even after the broker lost its bindings (a Redis FLUSHALL, a failover).
    On RabbitMQ they are quorum queues (replicated, with publisher confirms)."""
    arguments = {"x-queue-type": "quorum"} if broker_url.startswith(("amqp", "pyamqp")) else None
    return [
        Queue(name, Exchange(""), routing_key=name, durable=True, queue_arguments=arguments)
        for name in worker_queues()
    ]


class RelayCelery(Celery):  # type: ignore[misc]
    """A Celery app that builds this process's container on first use (after any fork)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("relay", set_as_current=False)
        self.settings = settings
        self._container: Container | None = None
        self._container_pid: int | None = None
        self._routes: LiveRoutes | None = None
        self.watchdog: Watchdog | None = None

    @property
    def container(self) -> Container:
        if self._container is None or self._container_pid != os.getpid():
            # No pre-ping (a round trip per transaction): the tasks try once more on a
            # connection found dead, and a stage recognises a step it already committed.
            self._container = bootstrap(
                self.settings, routes=self._routes, check=False, pre_ping=False
            )
            self._container_pid = os.getpid()
        return self._container

    def routes_in_force(self) -> RoutesInForce | None:
        """The routes table this process has in force: its container's, or (a prefork
        worker's main process) the table its pool processes started with, looked at again."""
        if self._container is not None and self._container_pid == os.getpid():
            return self._container.routes_in_force()
        return self._routes.in_force() if self._routes is not None else None

    def use_container(self, container: Container) -> None:
        self._container, self._container_pid = container, os.getpid()

    def watch(self, role: str, on_wedged: Callable[[Wedged], None]) -> str:
        """Give this worker a watchdog (started when the worker is ready); returns the
        worker's node name, which its heartbeat rows in the ledger carry."""
        settings = self.settings
        watchdog = Watchdog(
            identity(role, utc_now()),
            database_url=settings.database_url,
            heartbeat_seconds=settings.heartbeat_seconds,
            stall_seconds=settings.worker_stall_seconds,
            on_wedged=on_wedged,
            now=utc_now,
            routes=self.routes_in_force,
        )
        signals.task_received.connect(lambda **_: watchdog.received(), weak=False)
        signals.worker_ready.connect(lambda **_: watchdog.start(), weak=False)
        self.watchdog = watchdog
        return watchdog.me.process_id

    def worker_main(self, argv: list[str] | None = None) -> None:
        """Load and check the routes before the pool forks: every worker process starts with
        a table it can use, and from then on watches the file on its own."""
        if self._container is None and self._routes is None:
            self._routes = live_routes(self.settings)
        super().worker_main(argv)


def exit_wedged(wedged: Wedged) -> None:
    """End a wedged worker now, for its supervisor to start a new one: kill the pool's
    children (the messages they hold are not acknowledged, so the broker gives them out
    again, and the ledger's leases recover their attempts) and exit with EXIT_WEDGED.
    Celery's own shutdown is not trusted here: it may wait on the broker that wedged it."""
    log.critical("exiting with status %d so the supervisor restarts this worker", EXIT_WEDGED)
    for child in billiard.process.active_children():
        if child.pid:
            os.kill(child.pid, signal.SIGKILL)
    logging.shutdown()
    os._exit(EXIT_WEDGED)


def create_celery(settings: Settings) -> RelayCelery:
    app = RelayCelery(settings)
    app.conf.update(
        celery_broker_config(settings.broker_url, settings.broker_key_prefix),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=ROUTE_QUEUE,
        task_default_exchange="",
        task_default_routing_key=ROUTE_QUEUE,
        task_queues=task_queues(settings.broker_url),
        task_create_missing_queues=True,
        task_time_limit=TASK_TIME_LIMIT_SECONDS,
        task_soft_time_limit=TASK_TIME_LIMIT_SECONDS - 15,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # Task events let Flower (or `celery events`) follow tasks on a production broker.
        worker_send_task_events=settings.task_events,
        task_send_sent_event=settings.task_events,
        worker_enable_remote_control=False,
    )
    if settings.log_format == "json":
        # With a receiver for this signal, Celery leaves logging to us (relay.logs).
        signals.setup_logging.connect(_json_logging, weak=False, dispatch_uid="relay-json-logging")
    _register_tasks(app)
    return app


def _json_logging(**_: Any) -> None:
    celery_in_json()


def _register_tasks(app: RelayCelery) -> None:
    retry_options: dict[str, Any] = {
        "autoretry_for": (OperationalError,),
        "retry_backoff": 2,
        "retry_backoff_max": 30,
        "max_retries": 5,
    }

    @app.task(name=ROUTE_TASK, **retry_options)  # type: ignore[untyped-decorator]
    def route(report_id: str) -> None:
        once_more_if_lost(lambda: app.container.route(report_id))

    @app.task(name=DELIVER_TASK, **retry_options)  # type: ignore[untyped-decorator]
    def deliver(report_id: str) -> None:
        container = app.container
        deliver_report(
            container.uow,
            report_id,
            deliverer_for=container.deliverer_for,
            control_for=container.control_for,
            now=container.now,
            jitter=container.jitter,
        )

    @app.task(name=HEARTBEAT_TASK, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def heartbeat(self: Any, sent_at: str) -> None:
        """Record that this worker took the scheduler's heartbeat from this queue."""
        del sent_at  # carried for people reading the broker; the ledger keeps the time
        node = str(self.request.hostname or socket.gethostname())
        queue = str((self.request.delivery_info or {}).get("routing_key") or "?")
        moment = utc_now()
        container = app.container
        routes = container.routes_in_force()  # this pool process's own table
        with container.uow() as uow:
            uow.heartbeats.beat(
                Beat(
                    node,
                    queue,
                    "worker",
                    socket.gethostname(),
                    os.getpid(),
                    moment,
                    moment,
                    routes_sha256=routes.sha256 if routes else None,
                    routes_loaded_at=routes.loaded_at if routes else None,
                )
            )
            uow.commit()
