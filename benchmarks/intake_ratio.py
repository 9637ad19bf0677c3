"""Intake against its limit, in one run: reports/s through `relay api` at N concurrent
clients, and the same SQL statements replayed without the application at the same
concurrency; prints both and the ratio.

    .venv/bin/python -m benchmarks.intake_ratio [--clients 32] [--seconds 20]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--only postgres|sqlite]
        [--client auto|wrk|python] [--workers 1]

PostgreSQL: a fresh database is created (and dropped after), migrated with `relay db
upgrade`; one report is POSTed through the real intake application in this process with
SQLAlchemy's events capturing every statement (`benchmarks.intake_capture`); then
`relay api` (a child process) takes reports from N clients for --seconds (`wrk` when
installed, else Python threads: `benchmarks.load`; every answer must be a 202 and every 202
a report in the ledger, else the run exits 1), and pgbench
replays the captured transaction (report id and Idempotency-Key fresh each time) with N
clients for --seconds. SQLite: the same against a fresh ledger file, the limit being N
threads committing the captured statements through connections made by the ledger's own
engine (its pragmas, BEGIN IMMEDIATE, full sync). Loopback only; every run ends by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import make_url

from benchmarks.cpu import processes
from benchmarks.intake_capture import capture_intake
from benchmarks.load import drive_intake, raw_sqlite_commits
from benchmarks.replay import pgbench_script, pgbench_tps, ratio
from ledger.content_crypto import new_key_line

TOKEN = "b" * 40
RELAY = str(Path(sys.executable).parent / "relay")


def relay_env(workdir: Path, database_url: str) -> dict[str, str]:
    return {
        "RELAY_DATA_DIR": str(workdir / "var"),
        "RELAY_DATABASE_URL": database_url,
        "RELAY_INTAKE_TOKENS": f"bench-portal:{TOKEN}",
        "RELAY_CONTENT_KEYS": new_key_line("bench-1"),
        "RELAY_LOG_LEVEL": "WARNING",
    }


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    name = f"relay_intake_ratio_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` and its children still running (the workers
    of `relay api --workers N`), from /proc; 0 where /proc is not there."""
    return sum(p.cpu_seconds for p in processes() if pid in (p.pid, p.parent))


@contextmanager
def relay_api(env: dict[str, str], workers: int = 1) -> Iterator[tuple[str, int]]:
    """`relay api` as a child process; its base URL once it answers, and its pid."""
    port = free_port()
    process = subprocess.Popen(
        [RELAY, "api", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("relay api did not start")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def migrate(env: dict[str, str]) -> None:
    # its message to stderr: stdout is the result's JSON
    subprocess.run(
        [RELAY, "db", "upgrade"], env={**os.environ, **env}, check=True, stdout=sys.stderr
    )


def pgbench(database_url: str, script: str, clients: int, seconds: int) -> float:
    url = make_url(database_url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        command = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2"]
        command += ["-T", str(seconds), "-f", file.name, "-h", url.host or "127.0.0.1"]
        command += ["-p", str(url.port or 5432), "-U", url.username or "postgres"]
        done = subprocess.run(
            [*command, url.database or ""], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed: {done.stderr.strip().splitlines()[:3]}")
    return pgbench_tps(done.stdout)


def count_reports(admin_url: str, database_url: str) -> int:
    """Reports in the ledger: the replay must have written one per transaction."""
    url = make_url(admin_url).set(database=make_url(database_url).database)
    with psycopg.connect(url.render_as_string(hide_password=False)) as connection:
        row = connection.execute("SELECT count(*) FROM reports").fetchone()
    return int(row[0]) if row else 0


def count_sqlite_reports(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM reports").fetchone()[0])


def measure_intake(
    env: dict[str, str], options: argparse.Namespace, count: Callable[[], int]
) -> dict[str, Any]:
    """`drive_intake` against `relay api`, with the API's CPU time per accepted report."""
    with relay_api(env, options.workers) as (url, pid):
        cpu = cpu_seconds(pid)
        intake = drive_intake(
            url, TOKEN, options.clients, options.seconds, count_reports=count, client=options.client
        )
        cpu = cpu_seconds(pid) - cpu
    reports = intake["ledger_reports_written"]
    intake["api_workers"] = options.workers
    intake["api_cpu_ms_per_report"] = round(cpu * 1000 / reports, 2) if reports else None
    return intake


def round_trips(steps: list[Any]) -> int:
    return len(steps)


def on_postgres(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    admin_url = options.admin_url
    with fresh_database(admin_url) as database_url:
        env = relay_env(workdir / "postgres", database_url)
        migrate(env)
        captured = capture_intake(env, TOKEN)
        intake = measure_intake(env, options, lambda: count_reports(admin_url, database_url))
        before = count_reports(admin_url, database_url)
        script = pgbench_script(captured.steps, captured.varying)
        limit = pgbench(database_url, script, options.clients, options.seconds)
        written = count_reports(admin_url, database_url) - before
    return {
        "ledger": "postgresql",
        "round_trips_per_report": round_trips(captured.steps),
        **intake,
        "limit_per_second": round(limit, 1),
        "limit": "pgbench -M prepared, the captured statements",
        "limit_reports_written": written,
        "ratio": round(ratio(intake["reports_per_second"], limit), 4),
    }


def on_sqlite(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    ledger = workdir / "sqlite" / "ledger.sqlite"
    env = relay_env(workdir / "sqlite", f"sqlite:///{ledger}")
    migrate(env)
    captured = capture_intake(env, TOKEN)
    intake = measure_intake(env, options, lambda: count_sqlite_reports(ledger))
    limit = raw_sqlite_commits(
        env["RELAY_DATABASE_URL"], captured, options.clients, options.seconds
    )
    return {
        "ledger": "sqlite",
        "round_trips_per_report": round_trips(captured.steps),
        **intake,
        "limit_per_second": round(limit, 1),
        "limit": "sqlite3 threads, the captured statements, the ledger's connections",
        "ratio": round(ratio(intake["reports_per_second"], limit), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--only", choices=["postgres", "sqlite"])
    parser.add_argument(
        "--client", choices=["auto", "wrk", "python"], default="auto", help="auto: wrk if installed"
    )
    parser.add_argument("--workers", type=int, default=1, help="relay api --workers")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="intake-ratio-") as directory:
        workdir = Path(directory)
        if args.only != "sqlite":
            results.append(on_postgres(args, workdir))
        if args.only != "postgres":
            results.append(on_sqlite(args, workdir))
    print(json.dumps({"clients": args.clients, "seconds": args.seconds, "runs": results}, indent=2))
    if any(run["failed"] or run["lost"] for run in results):
        sys.exit("some requests failed, or some accepted reports are not in the ledger")


if __name__ == "__main__":
    main()
