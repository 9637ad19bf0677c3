"""`relay run|api|worker|scheduler`: the pipeline's long-running processes."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from relay.bootstrap import StartupError, bootstrap
from relay.cli.options import settings_and_logging, startup_errors
from relay.preflight import require_broker
from relay.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def metrics_port_option(command: F) -> F:
    return click.option(
        "--metrics-port",
        type=click.IntRange(1, 65535),
        default=None,
        help="Serve /metrics on this port. Default: RELAY_METRICS_PORT (unset: none).",
    )(command)


@contextmanager
def worker_metrics(settings: Settings, port: int | None) -> Iterator[None]:
    """With a port: the pool's counts (multiprocess mode, set up before the pool forks) and
    the ledger's gauges, served by the worker's main process on that port."""
    if not port:
        yield
        return
    import httpx
    from celery import signals

    from ledger.database import create_ledger_engine
    from relay.bootstrap import Container
    from relay.metrics_http import (
        enable_multiprocess,
        process_exited,
        remove_multiprocess_dir,
        serve_metrics_port,
    )

    directory = enable_multiprocess()
    # Unpooled: a connection left in a pool would be inherited by the forked children.
    engine = create_ledger_engine(settings.database_url, pooled=False)
    container = Container(settings, engine, httpx.Client())
    signals.worker_process_shutdown.connect(lambda pid, **_: process_exited(int(pid)), weak=False)
    try:
        server = serve_metrics_port(container, port)
    except StartupError:
        container.close()
        remove_multiprocess_dir(directory)
        raise
    try:
        yield
    finally:
        server.shutdown()
        container.close()
        remove_multiprocess_dir(directory)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@startup_errors
def run(host: str, port: int) -> None:
    """Everything in one process: intake API, worker, outbox relay, periodic jobs."""
    from relay.embedded import run_embedded

    settings = settings_and_logging()
    container = bootstrap(settings)
    container.check_routes()
    require_broker(settings)
    run_embedded(container, host, port)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Serving processes sharing the port (one per core is a good start).",
)
@startup_errors
def api(host: str, port: int, workers: int) -> None:
    """The intake API alone (production: run several behind a load balancer)."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from relay.logs import uvicorn_log_config
    from relay.metrics_http import enable_multiprocess, remove_multiprocess_dir
    from relay.wiring import intake_app

    settings = settings_and_logging()
    level, log_config = settings.log_level.lower(), uvicorn_log_config(LOGGING_CONFIG)
    # No check of each pooled connection before use: intake tries again on a lost one.
    container = bootstrap(settings, pre_ping=False)
    if workers == 1:
        uvicorn.run(
            intake_app(container), host=host, port=port, log_level=level, log_config=log_config
        )
        return
    container.close()  # it checked the ledger and the keys; each worker builds its own
    directory = enable_multiprocess()
    try:
        uvicorn.run(
            "relay.api_workers:worker_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=level,
            log_config=log_config,
        )
    finally:
        remove_multiprocess_dir(directory)


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=None,
    help="Default: RELAY_WORKER_CONCURRENCY (always 1 for --pool solo).",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "threads", "solo"]),
    default="prefork",
    show_default=True,
)
@click.option("--queues", default=None, help="Comma-separated; default: route and every vendor.")
@metrics_port_option
@startup_errors
def worker(
    concurrency: int | None, pool: str, queues: str | None, metrics_port: int | None
) -> None:
    """A Celery worker for the routing and delivery queues."""
    from relay.celery_app import create_celery, exit_wedged, worker_argv

    settings = settings_and_logging()
    check = bootstrap(settings)
    try:
        check.check_routes()  # a missing secret stops the start, not the first delivery
    finally:
        check.close()
    require_broker(settings)
    # Celery reserves concurrency x prefetch messages. A solo worker runs one task at a
    # time, so anything more would hold reports behind a slow delivery.
    slots = 1 if pool == "solo" else concurrency or settings.worker_concurrency
    celery = create_celery(settings)
    node = celery.watch("worker", exit_wedged)
    with worker_metrics(settings, metrics_port or settings.metrics_port):
        celery.worker_main(
            worker_argv(
                slots,
                pool=pool,
                queues=queues.split(",") if queues else None,
                node=node,
                quiet=settings.log_format == "json",
                log_level=settings.log_level,
            )
        )


@click.command()
@metrics_port_option
@startup_errors
def scheduler(metrics_port: int | None) -> None:
    """The outbox relay and the periodic jobs (one or more per deployment)."""
    from relay.background import Background
    from relay.celery_app import create_celery

    settings = settings_and_logging()
    container = bootstrap(settings)
    try:
        container.check_routes()  # the proof lane's read-back needs the recipients
        require_broker(settings)
    except BaseException:
        container.close()
        raise
    port = metrics_port or settings.metrics_port
    if port:
        from relay.metrics_http import serve_metrics_port

        serve_metrics_port(container, port)
    celery = create_celery(settings)
    celery.use_container(container)
    background = Background(container, celery)
    signal.signal(signal.SIGTERM, lambda *_: background.stop_event.set())
    background.start()
    try:
        background.stop_event.wait()
    except KeyboardInterrupt:
        pass
    finally:
        background.stop()
        container.close()
