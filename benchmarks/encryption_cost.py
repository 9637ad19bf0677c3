"""What sealing report content costs: intake and delivery throughput with and without
encryption, measured in one run on the same ledger, in alternating rounds.

    .venv/bin/python -m benchmarks.encryption_cost [--reports 400]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/relay_bench]

Intake is the real service (parse, validate against the KS schema, one unit of work that
writes the report, its first transition and outbox row); delivery is the real stage (claim
under a lease, read the content, push, record the outcome) against an in-memory case system,
so the network and the broker, which dwarf both, are left out and the difference shows.
The two take turns report by report, so whatever else loads the machine loads both alike.
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


def interleaved(
    engine: Any, rings: dict[str, Any], reports: int, tag: str
) -> dict[str, dict[str, list[float]]]:
    """Seconds per intake and per delivery, for each ring, the rings taking turns report by
    report (so the load of anything else on the machine falls on both alike)."""
    raw = json.dumps({"meldingstype": MELDINGSTYPE, "bekymringsmelding": example(MELDINGSTYPE)})
    now = lambda: datetime.now(UTC)  # noqa: E731
    factories = {name: (lambda keys=keys: UnitOfWork(engine, keys)) for name, keys in rings.items()}
    seconds: dict[str, dict[str, list[float]]] = {
        name: {"intake": [], "delivery": []} for name in rings
    }
    ids: dict[str, list[str]] = {name: [] for name in rings}
    order = list(rings)
    for number in range(reports):
        for name in order if number % 2 else reversed(order):
            submission = submission_from_body("bench", f"{tag}-{name}-{number}", raw.encode())
            started = time.perf_counter()
            report_id = accept_report(factories[name], submission, now=now).id
            seconds[name]["intake"].append(time.perf_counter() - started)
            ids[name].append(report_id)
            routed(factories[name], report_id, now())
    case_system = InstantCaseSystem()
    for number in range(reports):
        for name in order if number % 2 else reversed(order):
            started = time.perf_counter()
            deliver_report(
                factories[name],
                ids[name][number],
                deliverer_for=lambda _: case_system,  # type: ignore[arg-type,return-value]
                control_for=lambda _: CONTROL,
                now=now,
            )
            seconds[name]["delivery"].append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=400)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    sealed: KeyRing = parse_key_ring(new_key_line("bench"), source="bench")
    rings = {"plain": PlainRing(), "encrypted": sealed}
    with tempfile.TemporaryDirectory() as directory:
        url = arguments.database_url or f"sqlite:///{Path(directory) / 'ledger.sqlite'}"
        engine = create_ledger_engine(url)
        upgrade(engine)
        interleaved(engine, rings, 10, "warm-up")  # imports, schema caches, the first pages
        seconds = interleaved(engine, rings, arguments.reports, "measured")
        engine.dispose()
    result: dict[str, Any] = {
        "database": url.split("@")[-1] if arguments.database_url else "sqlite"
    }
    for name in rings:
        result[name] = {
            f"{stage}_per_second": round(len(values) / sum(values), 1)
            for stage, values in seconds[name].items()
        } | {
            f"{stage}_median_ms": round(statistics.median(values) * 1000, 2)
            for stage, values in seconds[name].items()
        }
    result["ratio_encrypted_to_plain_throughput"] = {
        stage: round(
            result["encrypted"][f"{stage}_per_second"] / result["plain"][f"{stage}_per_second"], 3
        )
        for stage in ("intake", "delivery")
    }
    document = json.dumps(example(MELDINGSTYPE)).encode()
    count = 2000
    started = time.perf_counter()
    for number in range(count):
        sealed.open(str(number), sealed.seal(str(number), document))
    result["seal_and_open_microseconds"] = round((time.perf_counter() - started) / count * 1e6, 1)
    result["document_bytes"] = len(document)
    result["reports"] = arguments.reports
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
