"""Delivery against its limit, in one run: reports/s delivered and verified by the pipeline,
beside Celery no-op tasks with the relay's own configuration on the same kind of broker at
the same worker pool and concurrency, counted at two tasks a report (route, deliver).

    .venv/bin/python -m benchmarks.delivery_ratio [--reports 600] [--concurrency 4]
        [--embedded]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/0]

Default: the production shape on PostgreSQL + Redis (`relay api`, `relay worker` prefork,
`relay scheduler` as separate processes, two sandbox case systems on 127.0.0.1; the
end-to-end tests' stack), on a fresh database (dropped after) and a key prefix of its own on
Redis (its keys deleted after). The reports are submitted by 8 threads while the worker is
stopped (a backlog on Redis), then the worker starts.

`--embedded`: `relay run` on its defaults, the SQLite ledger and kombu's SQLAlchemy
transport on a SQLite file as broker, worker threads in the one process
(RELAY_WORKER_CONCURRENCY = --concurrency). Intake is in that process too, so it is
stopped while a `relay api` on the same ledger takes the reports (a backlog in the ledger's
outbox), then started again. Its no-op limit: a `--pool threads` worker consuming the same
queues as `relay run`, on a fresh SQLite broker file, half the tasks on the route queue and
half on the deliveries'.

Either way the rate is reports over the ledger's time from the first ROUTED to the last
VERIFIED, drawn three times on the same stack, a backlog after another (`PIPELINE_SAMPLES`);
the figure is the median draw (single draws of the same code swung 72-112 reports/s on this
machine, with the no-op limit measured minutes later). The no-op rate is taken from the
moment the worker starts taking tasks until no message is left (on Redis: and none
unacknowledged), by a new no-op worker each time, three times (`NOOP_SAMPLES`); the limit
is their median (one draw swung 240-330 reports/s on this machine between runs of the same
code). Bounded by --timeout; loopback only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Select, func, select

from benchmarks import cpu
from benchmarks.celery_noop import NOOP_TASK
from benchmarks.intake_ratio import free_port, fresh_database
from benchmarks.replay import ratio
from ledger import schema
from ledger.topology import ROUTE_QUEUE, deliver_dispatch
from relay.bootstrap import load_settings
from relay.celery_app import create_celery, worker_queues
from tests.support.stack import DEFAULT_RECIPIENTS, Broker, Stack, running_stack, split_stack

KOMMUNER = [spec.serves[0] for spec in DEFAULT_RECIPIENTS]
NOOP_SAMPLES = 3
# Draws of the pipeline's own rate; the figure is the median draw (`summary`).
PIPELINE_SAMPLES = 3
# The deliveries' queue of the sandbox recipients' vendor.
DELIVER_QUEUE = deliver_dispatch(DEFAULT_RECIPIENTS[0].vendor).queue
Backlog = Callable[[Stack], AbstractContextManager[Stack]]


def submit_all(stack: Stack, reports: int) -> None:
    def one(number: int) -> None:
        stack.submit_many(KOMMUNER[number % len(KOMMUNER)], 1)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(reports)))


def count(stack: Stack, query: Select[Any]) -> Any:
    with stack.engine.connect() as connection:
        return connection.execute(query).scalar_one()


@contextmanager
def worker_stopped(stack: Stack) -> Iterator[Stack]:
    """The split shape's backlog: reports submitted while `relay worker` is stopped wait,
    routed by nobody, on the broker (the scheduler publishes them)."""
    worker = stack.processes["worker"]
    worker.stop()
    yield stack
    worker.start()


@contextmanager
def run_stopped(stack: Stack) -> Iterator[Stack]:
    """The embedded shape's backlog: `relay run` is intake and worker in one process, so a
    `relay api` on the same SQLite ledger takes the reports while it is stopped; their
    outbox rows wait in the ledger until `relay run` starts again and publishes them."""
    run = stack.processes["run"]
    run.stop()
    url = f"http://127.0.0.1:{free_port()}"
    intake = stack.start_process("intake", ["api", "--port", url.rpartition(":")[2]])
    intake.wait_http(f"{url}/healthz")
    yield dataclasses.replace(stack, api_url=url)
    intake.stop()
    run.start()


# Through the ledger's typed columns, so that SQLite's stored text compares and comes back
# as times. A draw's reports are those received since it began; its transitions, since then.
def _moves_to(state: str, since: datetime) -> Select[Any]:
    return select(func.count()).where(
        schema.transitions.c.to_state == state, schema.transitions.c.at >= since
    )


def verified_since(since: datetime) -> Select[Any]:
    reports = schema.reports.c
    return select(func.count()).where(reports.state == "VERIFIED", reports.received_at >= since)


def first_routed_last_verified(stack: Stack, since: datetime) -> tuple[datetime, datetime]:
    at, to_state = schema.transitions.c.at, schema.transitions.c.to_state
    first = select(func.min(at)).where(to_state == "ROUTED", at >= since).scalar_subquery()
    last = select(func.max(at)).where(to_state == "VERIFIED", at >= since).scalar_subquery()
    with stack.engine.connect() as connection:
        row = connection.execute(select(first, last)).one()
    return row[0], row[1]


def pipeline_rate(stack: Stack, reports: int, timeout: float, backlog: Backlog) -> dict[str, Any]:
    """Reports/s delivered and verified from a backlog: the reports submitted while nothing
    routes them (`backlog`), then all VERIFIED. The rate is taken from the ledger's
    timestamps: first ROUTED to last VERIFIED, of this draw's reports (the stack may have
    drained earlier draws)."""
    since = datetime.now(UTC)
    with backlog(stack) as intake:
        submit_all(intake, reports)
    deadline = time.monotonic() + timeout
    while not count(stack, _moves_to("ROUTED", since)) and time.monotonic() < deadline:
        time.sleep(0.02)  # the worker starting: its imports are not the pipeline's cost
    before = cpu.snapshot(process_groups(stack))
    done = 0
    while done < reports and time.monotonic() < deadline:
        time.sleep(0.2)
        done = count(stack, verified_since(since))
    spent = cpu.per_item_ms(before, cpu.snapshot(process_groups(stack)), done)
    first, last = first_routed_last_verified(stack, since)
    seconds = (last - first).total_seconds()
    # Reports that waited in the ledger for their recipient (its breaker, or all of its
    # RELAY_MAX_CONCURRENT_PER_RECIPIENT slots busy) or for a retry: 0 means the recipients'
    # limits did not hold the pipeline back, and the rate is the pipeline's.
    waited = count(stack, _moves_to("RETRY_SCHEDULED", since))
    return {
        "reports": reports,
        "verified": done,
        "routed_to_last_verified_seconds": round(seconds, 2),
        "reports_per_second": round(done / seconds, 1),
        "waits_in_ledger": waited,
        "cpu_ms_per_report": spent,
    }


def pipeline_rates(
    stack: Stack, reports: int, timeout: float, backlog: Backlog
) -> list[dict[str, Any]]:
    """`pipeline_rate` PIPELINE_SAMPLES times on the same stack, one draw after another."""
    return [pipeline_rate(stack, reports, timeout, backlog) for _ in range(PIPELINE_SAMPLES)]


def process_groups(stack: Stack) -> dict[str, int]:
    """The stack's processes (each its own process group) by name, the case systems too."""
    groups = {name: p.process.pid for name, p in stack.processes.items() if p.process}
    for recipient, sandbox in stack.sandboxes.items():
        if sandbox.process.process:
            groups[f"case system {recipient}"] = sandbox.process.process.pid
    return groups


@dataclasses.dataclass(frozen=True)
class NoopShape:
    """How the no-op worker runs (`pool`, the queues it `consumes`), where its tasks are
    published (in turn), and how its broker is read: messages not yet taken (`queued`) and
    those not yet done (`waiting`)."""

    pool: str
    consumes: list[str]
    publish: list[str]
    queued: Callable[[], int]
    waiting: Callable[[], int]


def redis_shape(env: dict[str, str]) -> NoopShape:
    """As `relay worker` on the route queue; done when the list and the unacked set are empty."""
    prefix = env["RELAY_BROKER_KEY_PREFIX"]
    client = redis.Redis.from_url(env["RELAY_BROKER_URL"])

    def queued() -> int:
        return int(client.llen(prefix + ROUTE_QUEUE))

    def waiting() -> int:
        return queued() + int(client.hlen(prefix + "unacked"))

    return NoopShape("prefork", [ROUTE_QUEUE], [ROUTE_QUEUE], queued, waiting)


def sqlite_shape(broker_file: Path) -> NoopShape:
    """As `relay run`'s worker (threads, every queue), on kombu's SQLAlchemy transport. It
    keeps no record of acknowledgements (a message taken is marked invisible), so done is
    when none is visible: the last few then still run, each a no-op of well under 1 ms."""

    def queued() -> int:
        with sqlite3.connect(broker_file, timeout=30) as connection:
            row = connection.execute("SELECT count(*) FROM kombu_message WHERE visible = 1")
            return int(row.fetchone()[0])

    return NoopShape("threads", worker_queues(), [ROUTE_QUEUE, DELIVER_QUEUE], queued, queued)


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """`env` in os.environ for the relay's settings to read, as they would in the worker."""
    previous = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(previous)


def publish_noops(env: dict[str, str], tasks: int, queues: list[str]) -> None:
    with environment(env):
        app = create_celery(load_settings())
        with app.producer_or_acquire() as producer:
            for number in range(tasks):
                queue = queues[number % len(queues)]
                app.send_task(NOOP_TASK, args=[f"r{number}"], queue=queue, producer=producer)


def noop_rate(
    env: dict[str, str], tasks: int, concurrency: int, timeout: float, shape: NoopShape
) -> float:
    """Tasks per second of a no-op worker with the relay's configuration draining `tasks`."""
    publish_noops(env, tasks, shape.publish)
    argv = [str(concurrency), shape.pool, ",".join(shape.consumes)]
    worker = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.celery_noop", *argv],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while (left := shape.queued()) >= tasks:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the no-op worker took no task")
            time.sleep(0.01)
        began = time.perf_counter()
        while shape.waiting() > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return (left - shape.waiting()) / (time.perf_counter() - began)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def noop_rates(
    fresh: Callable[[int], tuple[dict[str, str], NoopShape]],
    tasks: int,
    concurrency: int,
    timeout: float,
) -> list[float]:
    """`noop_rate` NOOP_SAMPLES times, each with a worker of its own on a broker as new
    (`fresh(sample)`: its environment and shape): a SQLite broker keeps the rows of messages
    taken, which would slow every later sample."""
    rates = []
    for sample in range(NOOP_SAMPLES):
        env, shape = fresh(sample)
        rates.append(noop_rate(env, tasks, concurrency, timeout, shape))
    return rates


def delete_keys(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def measure_split(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[float]]:
    """The pipeline's draws (`PIPELINE_SAMPLES`) and the no-op tasks/s (`NOOP_SAMPLES`), on
    PostgreSQL + Redis."""
    prefix = f"bench-delivery-{os.getpid()}-"
    worker_args = ("--pool", "prefork", "--concurrency", str(args.concurrency))
    extra = {"RELAY_LOG_LEVEL": "WARNING"}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="delivery-ratio-") as directory,
            fresh_database(args.admin_url) as database_url,
        ):
            broker = Broker(args.redis_url, prefix + "relay:")
            workdir = Path(directory)
            with split_stack(
                workdir, database_url, broker, DEFAULT_RECIPIENTS, extra, worker_args=worker_args
            ) as stack:
                pipeline = pipeline_rates(stack, args.reports, args.timeout, worker_stopped)
                env = dict(stack.env)

            def fresh(sample: int) -> tuple[dict[str, str], NoopShape]:
                keys = {**env, "RELAY_BROKER_KEY_PREFIX": f"{prefix}noop{sample}:"}
                return keys, redis_shape(keys)

            tasks = noop_rates(fresh, 2 * args.reports, args.concurrency, args.timeout)
    finally:
        delete_keys(args.redis_url, prefix)
    return pipeline, tasks


def measure_embedded(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[float]]:
    """The pipeline's draws (`PIPELINE_SAMPLES`) and the no-op tasks/s (`NOOP_SAMPLES`), for
    `relay run` on its SQLite files."""
    extra = {"RELAY_LOG_LEVEL": "WARNING", "RELAY_WORKER_CONCURRENCY": str(args.concurrency)}
    with tempfile.TemporaryDirectory(prefix="delivery-ratio-") as directory:
        workdir = Path(directory)
        with running_stack(workdir, "embedded", extra_env=extra) as stack:
            pipeline = pipeline_rates(stack, args.reports, args.timeout, run_stopped)
            env = dict(stack.env)

        def fresh(sample: int) -> tuple[dict[str, str], NoopShape]:
            broker_file = workdir / f"noop-broker-{sample}.sqlite"
            return {**env, "RELAY_BROKER_URL": f"sqla+sqlite:///{broker_file}"}, sqlite_shape(
                broker_file
            )

        tasks = noop_rates(fresh, 2 * args.reports, args.concurrency, args.timeout)
    return pipeline, tasks


def summary(
    shape: str, concurrency: int, draws: list[dict[str, Any]], samples: list[float]
) -> dict[str, Any]:
    """The pipeline's median draw beside the no-op limit: the median of the no-op samples,
    at two tasks a report (route, deliver). Every draw's rate is kept beside it."""
    rates = [draw["reports_per_second"] for draw in draws]
    pipeline = draws[rates.index(statistics.median_low(rates))]
    tasks = statistics.median(samples)
    limit = tasks / 2
    return {
        "shape": shape,
        "worker_concurrency": concurrency,
        **pipeline,
        "reports_per_second_samples": rates,
        "noop_tasks_per_second_samples": [round(sample, 1) for sample in samples],
        "noop_tasks_per_second": round(tasks, 1),
        "limit_reports_per_second": round(limit, 1),
        "ratio": round(ratio(pipeline["reports_per_second"], limit), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=100)
    parser.add_argument("--embedded", action="store_true", help="relay run on SQLite files")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if args.embedded:
        shape, (pipeline, tasks) = "embedded", measure_embedded(args)
    else:
        shape, (pipeline, tasks) = "split", measure_split(args)
    print(json.dumps(summary(shape, args.concurrency, pipeline, tasks), indent=2))


if __name__ == "__main__":
    main()
