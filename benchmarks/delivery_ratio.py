"""Delivery against its limit, in one run, on PostgreSQL + Redis: reports/s delivered and
verified by the production shape (`relay api`, `relay worker` prefork, `relay scheduler`
as separate processes, two sandbox case systems on 127.0.0.1; the end-to-end tests' stack),
and Celery no-op tasks with the relay's own configuration on the same broker at the same
worker concurrency, counted at two tasks a report (route, deliver).

    .venv/bin/python -m benchmarks.delivery_ratio [--reports 600] [--concurrency 4]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/0]

A fresh database (dropped after) and a key prefix of its own on Redis (its keys deleted
after). The reports are submitted by 8 threads while the worker is stopped (a backlog on
Redis), then the worker starts; the rate is reports over the ledger's time from the first
ROUTED to the last VERIFIED. The no-op rate is taken from the moment the worker
starts taking tasks until the queue and its unacknowledged set are empty. Bounded by
--timeout; loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import text

from benchmarks.celery_noop import NOOP_TASK
from benchmarks.intake_ratio import fresh_database
from benchmarks.replay import ratio
from ledger.topology import ROUTE_QUEUE
from relay.bootstrap import load_settings
from relay.celery_app import create_celery
from tests.support.stack import DEFAULT_RECIPIENTS, Broker, Stack, split_stack

KOMMUNER = [spec.serves[0] for spec in DEFAULT_RECIPIENTS]


def submit_all(stack: Stack, reports: int) -> None:
    def one(number: int) -> None:
        stack.submit_many(KOMMUNER[number % len(KOMMUNER)], 1)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(reports)))


def count(stack: Stack, query: str) -> Any:
    with stack.engine.connect() as connection:
        return connection.execute(text(query)).one()


def pipeline_rate(stack: Stack, reports: int, timeout: float) -> dict[str, Any]:
    """Reports/s delivered and verified from a backlog: the worker stopped, the reports
    submitted (routed messages wait on Redis), the worker started, all VERIFIED. The rate
    is taken from the ledger's timestamps: first ROUTED to last VERIFIED."""
    worker = stack.processes["worker"]
    worker.stop()
    submit_all(stack, reports)
    worker.start()
    deadline = time.monotonic() + timeout
    done = 0
    while done < reports and time.monotonic() < deadline:
        time.sleep(0.2)
        (done,) = count(stack, "SELECT count(*) FROM reports WHERE state = 'VERIFIED'")
    first, last = count(
        stack,
        "SELECT (SELECT min(at) FROM transitions WHERE to_state = 'ROUTED'),"
        " (SELECT max(at) FROM transitions WHERE to_state = 'VERIFIED')",
    )
    seconds = (last - first).total_seconds()
    # Reports that waited in the ledger for their recipient (its breaker, or all of its
    # RELAY_MAX_CONCURRENT_PER_RECIPIENT slots busy) or for a retry: 0 means the recipients'
    # limits did not hold the pipeline back, and the rate is the pipeline's.
    (waited,) = count(stack, "SELECT count(*) FROM transitions WHERE to_state = 'RETRY_SCHEDULED'")
    return {
        "reports": reports,
        "verified": done,
        "routed_to_last_verified_seconds": round(seconds, 2),
        "reports_per_second": round(done / seconds, 1),
        "waits_in_ledger": waited,
    }


def noop_rate(env: dict[str, str], tasks: int, concurrency: int, timeout: float) -> float:
    """Tasks per second of a no-op worker with the relay's configuration draining `tasks`."""
    previous = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_celery(load_settings())
        with app.producer_or_acquire() as producer:
            for number in range(tasks):
                app.send_task(NOOP_TASK, args=[f"r{number}"], queue=ROUTE_QUEUE, producer=producer)
    finally:
        os.environ.clear()
        os.environ.update(previous)
    prefix = env["RELAY_BROKER_KEY_PREFIX"]
    client = redis.Redis.from_url(env["RELAY_BROKER_URL"])

    def waiting() -> int:
        return int(client.llen(prefix + ROUTE_QUEUE)) + int(client.hlen(prefix + "unacked"))

    worker = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.celery_noop", str(concurrency)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while (left := int(client.llen(prefix + ROUTE_QUEUE))) >= tasks:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the no-op worker took no task")
            time.sleep(0.01)
        began = time.perf_counter()
        while waiting() > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return (left - waiting()) / (time.perf_counter() - began)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def delete_keys(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=100)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
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
                pipeline = pipeline_rate(stack, args.reports, args.timeout)
                env = dict(stack.env)
            env["RELAY_BROKER_KEY_PREFIX"] = prefix + "noop:"
            tasks = noop_rate(env, 2 * args.reports, args.concurrency, args.timeout)
    finally:
        delete_keys(args.redis_url, prefix)
    limit = tasks / 2
    result = {
        "worker_concurrency": args.concurrency,
        **pipeline,
        "noop_tasks_per_second": round(tasks, 1),
        "limit_reports_per_second": round(limit, 1),
        "ratio": round(ratio(pipeline["reports_per_second"], limit), 4),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
