"""A Celery worker with the relay's own configuration (`relay.celery_app.create_celery`:
acks late, prefetch 1, JSON, the broker options, the same worker argv as `relay worker`)
whose only task does nothing: the limit delivery is measured against.

    python -m benchmarks.celery_noop CONCURRENCY     # a worker on the route queue
"""

from __future__ import annotations

import sys

from ledger.topology import ROUTE_QUEUE
from relay.bootstrap import load_settings
from relay.celery_app import create_celery
from relay.embedded import worker_argv

NOOP_TASK = "bench.noop"

app = create_celery(load_settings())


@app.task(name=NOOP_TASK)  # type: ignore[untyped-decorator]  # Celery's decorator is untyped
def noop(report_id: str) -> None:
    """Nothing: what a task costs the broker and the worker, without the relay's work."""


def main() -> None:
    concurrency = int(sys.argv[1])
    argv = worker_argv(
        concurrency, pool="prefork", node="bench-noop@%h", queues=[ROUTE_QUEUE], quiet=True
    )
    app.worker_main(argv)


if __name__ == "__main__":
    main()
