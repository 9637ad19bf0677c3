"""What the stage benchmarks share: the production shape on a fresh PostgreSQL database and a
Redis key prefix of their own (both removed after), reports submitted at a fixed rate or
all at once, the ledger's timestamps read back, and the worker's resident memory.

The stack is the end-to-end tests' (`tests.support.stack.split_stack`: `relay api`, `relay
worker --pool prefork`, `relay scheduler`, sandbox case systems, all on 127.0.0.1), with the
timings those tests shorten set back to the product's defaults, so that a latency is the
one an operator would see; only the verify delay is chosen by the benchmark.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from benchmarks.delivery_ratio import delete_keys
from benchmarks.intake_ratio import fresh_database
from benchmarks.stages import first_entries, stat_ids, status_rss_kb
from intake.meldingstyper import MELDINGSTYPER
from ledger import schema
from relay.settings import Settings
from tests.support.reports import submission
from tests.support.stack import DEFAULT_RECIPIENTS, Broker, Stack, split_stack

# The two sandbox recipients and the municipality each serves.
RECIPIENT_A, RECIPIENT_B = (spec.id for spec in DEFAULT_RECIPIENTS)
KOMMUNE = {spec.id: spec.serves[0] for spec in DEFAULT_RECIPIENTS}
# Timings the end-to-end stack shortens for tests, back at the product's defaults.
PRODUCT_TIMINGS = ("outbox_poll_seconds", "scheduler_tick_seconds", "retry_base_seconds")
STORED = ("DELIVERED", "VERIFIED")
FINAL = ("VERIFIED", "DEAD_LETTERED", "HELD")
_STARTED = time.monotonic()


def progress(message: str) -> None:
    """A line on stderr (stdout is for the JSON result), with seconds since the start."""
    print(f"[{time.monotonic() - _STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


def product_timings() -> dict[str, str]:
    fields = Settings.model_fields
    return {f"RELAY_{name.upper()}": str(fields[name].default) for name in PRODUCT_TIMINGS}


@contextmanager
def bench_stack(
    name: str,
    *,
    admin_url: str,
    redis_url: str,
    concurrency: int,
    settings: dict[str, str],
) -> Iterator[Stack]:
    """The split stack on a fresh database and key prefix; every process stopped, the
    database dropped and the keys deleted afterwards."""
    prefix = f"bench-{name}-{int(time.time())}-"
    env = {"RELAY_LOG_LEVEL": "WARNING", **product_timings(), **settings}
    worker_args = ("--pool", "prefork", "--concurrency", str(concurrency))
    try:
        with (
            tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as directory,
            fresh_database(admin_url) as database_url,
        ):
            broker = Broker(redis_url, prefix + "relay:")
            progress(f"starting api, worker (prefork, {concurrency}), scheduler, case systems")
            with split_stack(
                Path(directory), database_url, broker, DEFAULT_RECIPIENTS, env,
                worker_args=worker_args,
            ) as stack:  # fmt: skip
                yield stack
            progress("stack stopped")
    finally:
        delete_keys(redis_url, prefix)


class Submitter:
    """POSTs reports from a pool of threads, each with its own HTTP client."""

    def __init__(self, stack: Stack, threads: int = 8) -> None:
        self._stack = stack
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="submit")
        self._local = threading.local()
        self._numbers = iter(range(10**9))
        self._lock = threading.Lock()

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.shutdown(wait=True)

    def one(self, recipient: str) -> str:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._stack.client()
        with self._lock:
            number = next(self._numbers)
        body = submission(
            MELDINGSTYPER[number % len(MELDINGSTYPER)],
            kommunenummer=KOMMUNE[recipient],
            text=f"bench {number}",
        )
        response: httpx.Response = client.post("/v1/reports", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"intake answered {response.status_code}")
        report_id: str = response.json()["id"]
        return report_id

    def many(self, recipient: str, count: int) -> list[str]:
        """`count` reports for `recipient`, as fast as the pool submits them."""
        futures = [self._pool.submit(self.one, recipient) for _ in range(count)]
        ids = []
        for number, future in enumerate(futures, 1):
            ids.append(future.result())
            if number % 1000 == 0:
                progress(f"submitted {number} of {count} for {recipient}")
        return ids

    def at_rate(
        self,
        recipients: Sequence[str],
        rate: float,
        seconds: float | None = None,
        stop: threading.Event | None = None,
    ) -> tuple[list[str], float]:
        """Reports at `rate` per second, taking turns among `recipients`, for `seconds` or
        until `stop` is set; their ids, and the rate the submissions actually began at."""
        futures: list[Future[str]] = []
        began = time.monotonic()
        number = 0
        while (seconds is None or number < rate * seconds) and not (stop and stop.is_set()):
            delay = began + number / rate - time.monotonic()
            if delay > 0:
                if stop is not None:
                    stop.wait(delay)
                else:
                    time.sleep(delay)
                continue
            futures.append(self._pool.submit(self.one, recipients[number % len(recipients)]))
            number += 1
        spent = time.monotonic() - began
        ids = [future.result() for future in futures]
        return ids, (len(ids) - 1) / spent if spent > 0 and len(ids) > 1 else 0.0


def states(stack: Stack) -> dict[str, str]:
    """Report id -> its state now."""
    with stack.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, state FROM reports")).all()
    return {report_id: state for report_id, state in rows}


def wait_until(
    stack: Stack, ids: Collection[str], wanted: Collection[str], timeout: float, label: str
) -> int:
    """Wait (up to `timeout`) until every report of `ids` is in one of `wanted` or in a final
    state; printing progress. How many are in `wanted` at the end."""
    deadline = time.monotonic() + timeout
    last_said = 0.0
    chosen = set(ids)
    while True:
        now_states = states(stack)
        done = sum(1 for r in chosen if now_states.get(r) in wanted)
        final = sum(1 for r in chosen if now_states.get(r) in FINAL and now_states[r] not in wanted)
        if done + final >= len(chosen) or time.monotonic() > deadline:
            if final:
                progress(f"{label}: {final} ended elsewhere (held or dead-lettered)")
            if done + final < len(chosen):
                progress(f"{label}: timed out after {timeout:g} s, {done} of {len(chosen)}")
            return done
        if time.monotonic() - last_said > 5:
            progress(f"{label}: {done} of {len(chosen)}")
            last_said = time.monotonic()
        # Each look reads every report's state: over a backlog of 10,000 that is CPU the
        # pipeline being measured would otherwise have, so look less often the more there are.
        time.sleep(max(0.25, len(now_states) / 10_000))


def ledger_entries(stack: Stack) -> dict[str, dict[str, datetime]]:
    """Report id -> state -> the first time it entered it, for every report in the ledger."""
    with stack.engine.connect() as connection:
        table = schema.transitions  # its column type gives aware UTC times
        rows = connection.execute(select(table.c.report_id, table.c.to_state, table.c.at)).all()
    return first_entries((report_id, state, at) for report_id, state, at in rows)


def group_rss_kb(process_group: int) -> dict[int, int]:
    """Pid -> resident set size (kB) of every process in `process_group` (a worker started
    in its own session: its parent and its prefork pool children)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pid, _, group = stat_ids((entry / "stat").read_text())
            if group == process_group:
                found[pid] = status_rss_kb((entry / "status").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended while we looked
    return found


def worker_rss(stack: Stack) -> dict[str, Any]:
    process = stack.processes["worker"].process
    if process is None:
        raise RuntimeError("the worker is not running")
    each = group_rss_kb(process.pid)
    return {"processes": len(each), "rss_kb": sum(each.values()), "each_kb": sorted(each.values())}
