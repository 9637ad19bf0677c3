"""Where Prometheus scrapes the relay: `/metrics` on the intake API (`relay api`, `relay run`)
and a port of its own for `relay worker` and `relay scheduler` (RELAY_METRICS_PORT).

Each serving process shows its own counters and histograms and, read from the ledger at
that scrape, the ledger's gauges (`relay.ledger_metrics`, registered once per serving
process). A prefork worker counts in its pool processes: `enable_multiprocess` (called by
`relay worker` before the pool forks) makes every process write its counts to a file of its
own in a fresh directory, and the main process serves their sum (prometheus_client's
multiprocess mode), so counts of pool processes that were replaced still add up.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, values
from prometheus_client import start_http_server as start_metrics_server
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector, CollectorRegistry

from deliverers.metrics import delivery_metrics
from ledger.alerts import OverdueLimits
from ledger.uow import UnitOfWork
from relay.bootstrap import Container, StartupError
from relay.ledger_metrics import LedgerCollector
from relay.process_metrics import IntakeMetrics, alert_metrics, intake_metrics

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  # a metrics port is there to be scraped from elsewhere


class _Forward:
    """Collects another registry's metrics (this process's counters) into ours."""

    def __init__(self, source: Collector) -> None:
        self._source = source

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()


def ledger_collector(container: Container) -> LedgerCollector:
    """The ledger's gauges through this container's engine (metadata only), with the
    recipients and overdue limits of the routes in force (none known without a routes
    file: an API may run without one)."""
    settings = container.settings

    def limits() -> OverdueLimits:
        try:
            return container.overdue_limits()
        except StartupError:
            return OverdueLimits(settings.overdue_after_seconds)

    def recipients() -> list[str]:
        try:
            return list(container.routes.recipients)
        except StartupError:
            return []

    return LedgerCollector(
        lambda: UnitOfWork(container.engine),
        limits=limits,
        recipients=recipients,
        now=container.now,
    )


def multiprocess_dir() -> str | None:
    directory = os.environ.get(MULTIPROCESS_DIR)
    return directory if directory and os.path.isdir(directory) else None


def metrics_registry(ledger: Collector) -> CollectorRegistry:
    """This process's metrics (or, in multiprocess mode, every process's) and the ledger's."""
    registry = CollectorRegistry()
    if multiprocess_dir() is not None:
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(ledger)
    return registry


def add_metrics(app: FastAPI, container: Container) -> FastAPI:
    """Count and time intake requests, and answer `GET /metrics`."""
    registry = metrics_registry(ledger_collector(container))
    app.add_middleware(IntakeMetrics)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:  # a plain def: FastAPI runs it in a thread, off the event loop
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def serve_metrics_port(container: Container, port: int) -> Any:
    """Serve this process's metrics and the ledger's gauges on `port`, in a thread."""
    registry = metrics_registry(ledger_collector(container))
    try:
        server, _thread = start_metrics_server(port, ALL_INTERFACES, registry=registry)
    except OSError as error:
        raise StartupError(f"metrics port {port}: cannot listen ({error.strerror})") from None
    return server


def enable_multiprocess() -> Path:
    """Before the pool forks: every process from now on writes its counts to its own file in
    a fresh directory (so no counts of an earlier run are served). Metrics are made on first
    use, after this, so they all take the multiprocess value class."""
    made = (delivery_metrics, intake_metrics, alert_metrics)
    if any(factory.cache_info().currsize for factory in made):
        raise RuntimeError("metrics were made before multiprocess mode; their counts would be lost")
    directory = Path(tempfile.mkdtemp(prefix="relay-metrics-"))
    os.environ[MULTIPROCESS_DIR] = str(directory)
    values.ValueClass = values.get_value_class()
    return directory


def process_exited(pid: int) -> None:
    """A pool process ended: drop its live gauge files. Its counters stay, and keep counting
    in the sum (a counter that fell when a process was replaced would look like a reset)."""
    if multiprocess_dir() is not None:
        mark_process_dead(pid)


def remove_multiprocess_dir(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
