"""Intake against its limit, in one run: reports/s through `relay api` at N concurrent
clients, and the same SQL statements replayed without the application at the same
concurrency; prints both and the ratio.

    .venv/bin/python -m benchmarks.intake_ratio [--clients 32] [--seconds 20]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--only postgres|sqlite]

PostgreSQL: a fresh database is created (and dropped after), migrated with `relay db
upgrade`; one report is POSTed through the real intake application in this process with
SQLAlchemy's events capturing every statement (`benchmarks.intake_capture`); then
`relay api` (a child process) takes reports from N client threads for --seconds, and pgbench
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import make_url

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


@contextmanager
def relay_api(env: dict[str, str]) -> Iterator[str]:
    """`relay api` as a child process; its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [RELAY, "api", "--port", str(port)], env={**os.environ, **env}, stdout=subprocess.DEVNULL
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
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def migrate(env: dict[str, str]) -> None:
    subprocess.run([RELAY, "db", "upgrade"], env={**os.environ, **env}, check=True)


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


def round_trips(steps: list[Any]) -> int:
    return len(steps)


def on_postgres(admin_url: str, clients: int, seconds: int, workdir: Path) -> dict[str, Any]:
    with fresh_database(admin_url) as database_url:
        env = relay_env(workdir / "postgres", database_url)
        migrate(env)
        captured = capture_intake(env, TOKEN)
        with relay_api(env) as url:
            intake = drive_intake(url, TOKEN, clients, seconds)
        before = count_reports(admin_url, database_url)
        script = pgbench_script(captured.steps, captured.varying)
        limit = pgbench(database_url, script, clients, seconds)
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


def on_sqlite(clients: int, seconds: int, workdir: Path) -> dict[str, Any]:
    ledger = workdir / "sqlite" / "ledger.sqlite"
    env = relay_env(workdir / "sqlite", f"sqlite:///{ledger}")
    migrate(env)
    captured = capture_intake(env, TOKEN)
    with relay_api(env) as url:
        intake = drive_intake(url, TOKEN, clients, seconds)
    limit = raw_sqlite_commits(env["RELAY_DATABASE_URL"], captured, clients, seconds)
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
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="intake-ratio-") as directory:
        workdir = Path(directory)
        if args.only != "sqlite":
            results.append(on_postgres(args.admin_url, args.clients, args.seconds, workdir))
        if args.only != "postgres":
            results.append(on_sqlite(args.clients, args.seconds, workdir))
    print(json.dumps({"clients": args.clients, "seconds": args.seconds, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
