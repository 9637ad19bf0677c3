"""Load for the ratio benchmarks: N client threads against the intake API for a fixed time,
and N threads committing captured statements straight to SQLite. Both stop by themselves."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx

from benchmarks.intake_capture import Captured, request_body
from benchmarks.replay import fresh_parameters, fresh_value, percentile
from ledger.database import create_ledger_engine


def drive_intake(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """Reports accepted per second (202s) by `clients` threads POSTing for `seconds`, and
    the latency from request to 202."""
    body = request_body()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, timeout=30) as http:
            for sequence in itertools.count():
                if time.monotonic() >= stop:
                    return
                headers["Idempotency-Key"] = f"bench-{number}-{sequence:012d}"
                started = time.perf_counter()
                response = http.post("/v1/reports", json=body, headers=headers)
                if response.status_code == 202:
                    latencies[number].append(time.perf_counter() - started)
                else:
                    failures[number] += 1

    began = time.perf_counter()
    _run_threads(client, clients)
    wall = time.perf_counter() - began
    every = [value for values in latencies for value in values]
    return {
        "reports": len(every),
        "failed": sum(failures),
        "reports_per_second": round(len(every) / wall, 1),
        "accept_p50_ms": round(percentile(every, 0.5) * 1000, 1) if every else None,
        "accept_p99_ms": round(percentile(every, 0.99) * 1000, 1) if every else None,
    }


def raw_sqlite_commits(
    database_url: str, captured: Captured, clients: int, seconds: float
) -> float:
    """Transactions per second of `clients` threads replaying `captured` on SQLite through
    connections made by the ledger's own engine (so its pragmas), each with a fresh report id
    and Idempotency-Key."""
    engine = create_ledger_engine(database_url, pooled=False)
    counter = itertools.count(1)
    done = [0] * clients
    stop = time.monotonic() + seconds

    def writer(number: int) -> None:
        raw = engine.raw_connection()
        try:
            connection: Any = raw.driver_connection
            while time.monotonic() < stop:
                tail = format(next(counter), "x")
                fresh = {value: fresh_value(value, tail) for value in captured.varying}
                _replay(connection, captured.steps, fresh)
                done[number] += 1
        finally:
            raw.close()

    began = time.perf_counter()
    _run_threads(writer, clients)
    wall = time.perf_counter() - began
    engine.dispose()
    return sum(done) / wall


def _replay(connection: Any, steps: list[Any], fresh: dict[str, str]) -> None:
    for step in steps:
        if step == "COMMIT":
            connection.commit()
        elif step == "ROLLBACK":
            connection.rollback()
        else:
            statement, parameters = step
            connection.execute(statement, fresh_parameters(parameters, fresh)).fetchall()


def _run_threads(target: Any, count: int) -> None:
    threads = [threading.Thread(target=target, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
