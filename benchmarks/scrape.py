"""What a scrape of the ledger's gauges costs with a full ledger: the real collector
(`relay.ledger_metrics`) over a PostgreSQL ledger holding `--reports` reports.

    .venv/bin/python -m benchmarks.scrape --database-url \\
        postgresql+psycopg://postgres@127.0.0.1:5432/relay_scrape_bench [--reports 100000]

The database must exist and be empty (it is migrated here, and filled). The reports are
bulk-inserted through the real schema (the same tables, columns and indexes as
`relay db upgrade` makes), shaped like a year of a healthy pipeline: nearly all VERIFIED,
a backlog of a few hundred in flight, retrying, held or dead-lettered, spread over 25
recipients, with their outbox rows (a few unpublished), breakers and heartbeats. Then
`VACUUM ANALYZE`, as autovacuum would have done, and the collection is timed `--scrapes`
times.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from ledger import schema
from ledger.alerts import OverdueLimits
from ledger.database import create_ledger_engine
from ledger.lifecycle import State
from ledger.migrate import upgrade
from ledger.uow import UnitOfWork
from relay.ledger_metrics import LedgerCollector

RECIPIENTS = [f"recipient-{number:02d}" for number in range(25)]
BACKLOG = {  # per 100,000 reports; the rest are VERIFIED
    State.ROUTED: 40,
    State.DELIVERING: 20,
    State.RETRY_SCHEDULED: 60,
    State.DELIVERED: 80,
    State.HELD: 15,
    State.DEAD_LETTERED: 25,
    State.RESOLVED_MANUALLY: 10,
}
BATCH = 5000


def report_row(number: int, state: State, now: datetime, rng: random.Random) -> dict[str, Any]:
    received = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
    if state not in (State.VERIFIED, State.RESOLVED_MANUALLY):
        received = now - timedelta(seconds=rng.uniform(0, 7200))  # the live backlog is recent
    recipient = None if state is State.HELD else RECIPIENTS[number % len(RECIPIENTS)]
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "client_id": "portal",
        "meldingstype": "no.ks.fiks.bekymringsmelding.offentlig.v2",
        "state": state.value,
        "submitted_kommunenummer": "4601",
        "kommunenummer": None if recipient is None else "4601",
        "recipient": recipient,
        "vendor": None if recipient is None else "rest-json",
        "received_at": received,
        "updated_at": received + timedelta(seconds=30),
        "attempts": 1,
        "last_sequence": 5,
        "last_hash": "0" * 64,
        "missing_count": 0,
        "state_kind": "exhausted" if state is State.DEAD_LETTERED else None,
    }


def fill(engine: Engine, reports: int, now: datetime) -> None:
    rng = random.Random(2026)
    states = [s for s, per in BACKLOG.items() for _ in range(per * reports // 100_000)]
    states += [State.VERIFIED] * (reports - len(states))
    rng.shuffle(states)
    for start in range(0, reports, BATCH):
        rows = [
            report_row(n, states[n], now, rng) for n in range(start, min(start + BATCH, reports))
        ]
        outbox = [
            {
                "report_id": row["id"],
                "task": "deliver",
                "queue": "deliver.rest-json",
                "created_at": row["updated_at"],
                "published_at": None if n % 20_000 == 0 else row["updated_at"],
                "publish_attempts": 1,
            }
            for n, row in enumerate(rows, start=start)
        ]
        with engine.begin() as connection:
            connection.execute(schema.reports.insert(), rows)
            connection.execute(schema.outbox.insert(), outbox)
    with engine.begin() as connection:
        health = [{"recipient": r, "consecutive_failures": 0, "opens": 0} for r in RECIPIENTS]
        connection.execute(schema.recipient_health.insert(), health)
        beats = [
            {
                "process_id": f"{role}-{n}@host",
                "queue": "",
                "role": role,
                "hostname": "host",
                "pid": n,
                "started_at": now - timedelta(hours=1),
                "beat_at": now - timedelta(seconds=n),
            }
            for n, role in enumerate(["worker", "worker", "worker", "scheduler"], start=1)
        ]
        connection.execute(schema.heartbeats.insert(), beats)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--scrapes", type=int, default=30)
    arguments = parser.parse_args()
    engine = create_ledger_engine(arguments.database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    fill(engine, arguments.reports, now)
    filled = time.perf_counter() - started
    collector = LedgerCollector(
        lambda: UnitOfWork(engine),
        limits=lambda: OverdueLimits(3600, {RECIPIENTS[0]: 600}),
        recipients=lambda: RECIPIENTS,
        now=lambda: datetime.now(UTC),
    )
    list(collector.collect())  # warm: connection, statement caches
    seconds, series = [], 0
    for _ in range(arguments.scrapes):
        begun = time.perf_counter()
        families = list(collector.collect())
        seconds.append(time.perf_counter() - begun)
        series = sum(len(family.samples) for family in families)
    engine.dispose()
    print(
        json.dumps(
            {
                "database": arguments.database_url.split("@")[-1],
                "reports": arguments.reports,
                "fill_seconds": round(filled, 1),
                "scrapes": arguments.scrapes,
                "collect_median_ms": round(statistics.median(seconds) * 1000, 1),
                "collect_p95_ms": round(sorted(seconds)[int(0.95 * len(seconds)) - 1] * 1000, 1),
                "collect_max_ms": round(max(seconds) * 1000, 1),
                "series": series,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
