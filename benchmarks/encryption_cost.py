"""What sealing report content costs: intake and delivery throughput with and without
encryption, measured in one run on the same ledger, in alternating rounds.

    .venv/bin/python -m benchmarks.encryption_cost [--reports 400] [--rounds 3]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/relay_bench]

Intake is the real service (parse, validate against the KS schema, one unit of work that
writes the report, its first transition and outbox row); delivery is the real stage (claim
under a lease, read the content, push, record the outcome) against an in-memory case system,
so the network and the broker, which dwarf both, are left out and the difference shows.
"Without encryption" is a key ring stand-in that stores the content as given: it exists only
here, so that the product has no switch to turn encryption off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deliverers.base import Delivery, Receipt
from deliverers.breaker import BreakerPolicy
from deliverers.control import DeliveryControl
from deliverers.retry import RetryPolicy
from deliverers.stage import deliver_report
from intake.protocol import example
from intake.service import accept_report, submission_from_body
from ledger.content_crypto import KeyRing, Sealed, new_key_line, parse_key_ring
from ledger.database import create_ledger_engine
from ledger.lifecycle import State
from ledger.migrate import upgrade
from ledger.uow import UnitOfWork

MELDINGSTYPE = "no.ks.fiks.bekymringsmelding.offentlig.v2"
CONTROL = DeliveryControl(
    policy=RetryPolicy(base_seconds=1, cap_seconds=10, max_attempts=5, max_age_seconds=3600),
    breaker=BreakerPolicy(failures_to_open=1000, open_seconds=1, probe_lease_seconds=60),
    max_concurrent=1_000_000,
    lease_seconds=60,
    receipt_deadline_seconds=60,
)


class PlainRing:
    """Stores content as given (the baseline); never used by the product."""

    primary = type("Key", (), {"id": "plain"})()

    def seal(self, report_id: str, content: bytes) -> Sealed:
        return Sealed("plain", b"", content)

    def open(self, report_id: str, sealed: Sealed) -> bytes:
        return sealed.ciphertext


class InstantCaseSystem:
    def deliver(self, delivery: Delivery) -> Receipt:
        return Receipt("SAK-1", delivery.sha256, 201)


def routed(uow_factory: Callable[[], UnitOfWork], report_id: str, at: datetime) -> None:
    with uow_factory() as uow:
        report = uow.reports.get(report_id, lock=True)
        assert report is not None
        changes = {"recipient": "bench", "vendor": "rest-json", "kommunenummer": "4601"}
        uow.reports.move(report, State.ROUTED, at=at, actor="bench", changes=changes)
        uow.commit()


def one_round(engine: Any, keys: Any, reports: int, tag: str) -> tuple[float, float]:
    """Reports accepted per second, then delivered per second."""
    factory = lambda: UnitOfWork(engine, keys)  # noqa: E731
    raw = json.dumps({"meldingstype": MELDINGSTYPE, "bekymringsmelding": example(MELDINGSTYPE)})
    now = lambda: datetime.now(UTC)  # noqa: E731
    started = time.perf_counter()
    ids = []
    for number in range(reports):
        submission = submission_from_body("bench", f"{tag}-{number}", raw.encode())
        ids.append(accept_report(factory, submission, now=now).id)
    intake = reports / (time.perf_counter() - started)
    for report_id in ids:
        routed(factory, report_id, now())
    case_system = InstantCaseSystem()
    started = time.perf_counter()
    for report_id in ids:
        moved = deliver_report(
            factory,
            report_id,
            deliverer_for=lambda _: case_system,  # type: ignore[arg-type,return-value]
            control_for=lambda _: CONTROL,
            now=now,
        )
        assert moved is State.DELIVERED, moved
    delivery = reports / (time.perf_counter() - started)
    return intake, delivery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = arguments.database_url or f"sqlite:///{Path(directory) / 'ledger.sqlite'}"
        engine = create_ledger_engine(url)
        upgrade(engine)
        sealed: KeyRing = parse_key_ring(new_key_line("bench"), source="bench")
        runs: dict[str, list[tuple[float, float]]] = {"encrypted": [], "plain": []}
        one_round(engine, sealed, 20, "warm")  # imports, schema caches, the first pages
        for number in range(arguments.rounds):
            for name, keys in (("plain", PlainRing()), ("encrypted", sealed)):
                runs[name].append(one_round(engine, keys, arguments.reports, f"{name}{number}"))
        engine.dispose()
    result: dict[str, Any] = {
        "database": url.split("@")[-1] if arguments.database_url else "sqlite"
    }
    for name, values in runs.items():
        result[name] = {
            "intake_per_second": round(statistics.median(v[0] for v in values), 1),
            "delivery_per_second": round(statistics.median(v[1] for v in values), 1),
        }
    result["ratio_encrypted_to_plain"] = {
        "intake": round(
            result["encrypted"]["intake_per_second"] / result["plain"]["intake_per_second"], 3
        ),
        "delivery": round(
            result["encrypted"]["delivery_per_second"] / result["plain"]["delivery_per_second"], 3
        ),
    }
    document = json.dumps(example(MELDINGSTYPE)).encode()
    count = 2000
    started = time.perf_counter()
    for number in range(count):
        sealed.open(str(number), sealed.seal(str(number), document))
    seconds = (time.perf_counter() - started) / count
    result["seal_and_open_microseconds"] = round(seconds * 1e6, 1)
    result["reports_per_round"], result["rounds"] = arguments.reports, arguments.rounds
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
