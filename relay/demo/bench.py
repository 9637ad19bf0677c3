"""`relay bench`: how fast the pipeline accepts, delivers and verifies, measured end to end.

Runs the demo's stack (simulated case systems without faults, `relay run`), submits
reports from several threads, then waits for all of them to be VERIFIED. Intake latency
is measured by the client; delivery and verification times come from the ledger's own
timestamps (the report's history), so they include every queue hop.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deliverers.sandbox.faults import Faults
from relay.demo.scenario import CASE_SYSTEMS, demo_reports
from relay.demo.stack import demo_stack


@dataclass
class Timing:
    accept_seconds: float
    delivered_seconds: float | None = None
    verified_seconds: float | None = None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 4),
        "p95": round(percentile(values, 0.95), 4),
        "max": round(max(values), 4),
    }


def run_bench(
    *, reports: int, concurrency: int, timeout: float, settings: dict[str, str]
) -> dict[str, Any]:
    workdir = Path("var") / "bench-runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    plan = [Faults() for _ in range(CASE_SYSTEMS)]
    documents = demo_reports(reports)
    with demo_stack(workdir, plan, {"RELAY_LOG_LEVEL": "WARNING", **settings}) as stack:
        client = stack.client

        def submit(number: int) -> tuple[str, float]:
            report = documents[number]
            started = time.perf_counter()
            response = client.post(
                "/v1/reports",
                json={"meldingstype": report.meldingstype, "bekymringsmelding": report.document},
                headers={"Idempotency-Key": f"bench-{number}"},
            )
            elapsed = time.perf_counter() - started
            if response.status_code != 202:
                raise RuntimeError(f"intake answered {response.status_code}")
            return response.json()["id"], elapsed

        wall = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            accepted = list(pool.map(submit, range(reports)))
        accept_wall = time.perf_counter() - wall

        pending = {report_id: Timing(seconds) for report_id, seconds in accepted}
        timings = dict(pending)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            time.sleep(0.5)
            for report_id in list(pending):
                view = client.get(f"/v1/reports/{report_id}").json()
                if view["status"] in ("VERIFIED", "DEAD_LETTERED", "HELD"):
                    _read_history(timings[report_id], view["history"])
                    del pending[report_id]
        total_wall = time.perf_counter() - wall

    delivered = [t.delivered_seconds for t in timings.values() if t.delivered_seconds is not None]
    verified = [t.verified_seconds for t in timings.values() if t.verified_seconds is not None]
    return {
        "reports": reports,
        "concurrency": concurrency,
        "database": settings.get("RELAY_DATABASE_URL", "sqlite (embedded)").split("@")[-1],
        "broker": settings.get("RELAY_BROKER_URL", "sqla+sqlite (embedded)").split("@")[-1],
        "accepted_per_second": round(reports / accept_wall, 1),
        "accept_latency_seconds": summary([t.accept_seconds for t in timings.values()]),
        "received_to_delivered_seconds": summary(delivered) if delivered else None,
        "received_to_verified_seconds": summary(verified) if verified else None,
        "verified_per_second": round(len(verified) / total_wall, 1),
        "not_verified": reports - len(verified),
        "workdir": str(stack.workdir),
    }


def _read_history(timing: Timing, history: list[dict[str, str]]) -> None:
    received = datetime.fromisoformat(history[0]["at"])
    for entry in history:
        seconds = (datetime.fromisoformat(entry["at"]) - received).total_seconds()
        if entry["status"] == "DELIVERED" and timing.delivered_seconds is None:
            timing.delivered_seconds = seconds
        if entry["status"] == "VERIFIED":
            timing.verified_seconds = seconds
