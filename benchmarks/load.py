"""Load for the ratio benchmarks: N concurrent clients against the intake API for a fixed
time, and N threads committing captured statements straight to SQLite. Both stop by
themselves.

The intake clients are `wrk` (C, one connection per client, `benchmarks/intake_wrk.lua`)
when it is installed, so that the load generator does not take the CPU it measures (Python
client threads cost about half as much CPU per report as the API itself); Python threads
with httpx otherwise. Either way every answer must be a 202 and every 202 a report in the
ledger, counted there afterwards.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.intake_capture import Captured, request_body
from benchmarks.replay import fresh_parameters, fresh_value, percentile
from ledger.database import create_ledger_engine

WRK_SCRIPT = Path(__file__).with_name("intake_wrk.lua")
WRK_RESULT = "WRK_RESULT "
SETTLE_SECONDS = 1.0  # for requests still in flight when the load stopped to commit


def drive_intake(
    url: str,
    token: str,
    clients: int,
    seconds: float,
    *,
    count_reports: Callable[[], int],
    client: str = "auto",
) -> dict[str, Any]:
    """Reports accepted per second (202s) by `clients` concurrent clients POSTing for
    `seconds`, the latency from request to 202, and the ledger's own count of reports
    written meanwhile (`lost`: 202s the ledger does not hold; must be 0). `client` is
    "wrk", "python" or "auto" (wrk when installed)."""
    use_wrk = client == "wrk" or (client == "auto" and shutil.which("wrk") is not None)
    before = count_reports()
    if use_wrk:
        result = _wrk_intake(url, token, clients, seconds)
    else:
        result = _python_intake(url, token, clients, seconds)
    time.sleep(SETTLE_SECONDS)
    written = count_reports() - before
    accepted, in_flight = result["reports"], result.pop("in_flight_at_stop")
    return {
        "client": "wrk" if use_wrk else "python threads",
        **result,
        "ledger_reports_written": written,
        "lost": max(0, accepted - written),
        "unexpected_in_ledger": max(0, written - accepted - in_flight),
    }


def wrk_result(output: str) -> dict[str, Any]:
    """The JSON line `intake_wrk.lua` prints at the end of wrk's output."""
    for line in output.splitlines():
        if line.startswith(WRK_RESULT):
            parsed: dict[str, Any] = json.loads(line[len(WRK_RESULT) :])
            return parsed
    raise ValueError("wrk printed no result line (is benchmarks/intake_wrk.lua in use?)")


def _wrk_intake(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    body = json.dumps(request_body(), ensure_ascii=False, separators=(",", ":"))
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as file:
        file.write(body)
        file.flush()
        threads = min(2, clients)
        command = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s"]
        command += ["--timeout", "30s", "-s", str(WRK_SCRIPT), f"{url}/v1/reports"]
        command += ["--", file.name, token, f"wrk{os.getpid()}x{time.time_ns():x}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip().splitlines()[:3]}")
    found = wrk_result(done.stdout)
    wall = found["duration_us"] / 1e6
    socket_errors = sum(
        found[name] for name in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return {
        "reports": found["accepted"],
        "failed": found["other_status"] + socket_errors,
        "reports_per_second": round(found["accepted"] / wall, 1),
        # wrk's latency is of every answer; failures are counted above and must be none
        "accept_p50_ms": round(found["p50_us"] / 1000, 1),
        "accept_p99_ms": round(found["p99_us"] / 1000, 1),
        "in_flight_at_stop": found["sent"] - found["accepted"] - found["other_status"],
    }


def _python_intake(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
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
        "in_flight_at_stop": 0,
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
