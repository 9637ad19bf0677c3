"""A Celery worker with the relay's own configuration (`relay.celery_app.create_celery`:
acks late, prefetch 1, JSON, the broker options, the same worker argv as `relay worker` or
`relay run`) whose only task does nothing: the limit delivery is measured against.

    python -m benchmarks.celery_noop CONCURRENCY [POOL [QUEUES]]

POOL: prefork (default, as `relay worker`) or threads (as `relay run`); QUEUES:
comma-separated, default the route queue.
"""

from __future__ import annotations

import sys

from ledger.topology import ROUTE_QUEUE
from relay.bootstrap import load_settings
from relay.celery_app import RelayCelery, create_celery, worker_argv

NOOP_TASK = "bench.noop"
DEFAULTS = ("", "prefork", ROUTE_QUEUE)  # CONCURRENCY is required


def noop(report_id: str) -> None:
    """Nothing: what a task costs the broker and the worker, without the relay's work."""


def noop_app() -> RelayCelery:
    """Built when the worker starts, not on import: the settings (and a SQLite broker's
    file) are the worker's, and the publishers only need the task's name."""
    app = create_celery(load_settings())
    app.task(name=NOOP_TASK)(noop)
    return app


def noop_argv(args: list[str], log_level: str) -> list[str]:
    """The worker argv for `CONCURRENCY [POOL [QUEUES]]`, built like the relay's own (and at
    its RELAY_LOG_LEVEL: at INFO Celery logs every task, which the relay does not pay)."""
    concurrency, pool, queues = [*args, *DEFAULTS[len(args) :]]
    return worker_argv(
        int(concurrency),
        pool=pool,
        node="bench-noop@%h",
        queues=queues.split(","),
        quiet=True,
        log_level=log_level,
    )


def main() -> None:
    app = noop_app()
    app.worker_main(noop_argv(sys.argv[1:], app.settings.log_level))


if __name__ == "__main__":
    main()
