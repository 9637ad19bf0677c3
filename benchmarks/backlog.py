"""Backlog drain, in one run, on the production shape (PostgreSQL + Redis; `relay api`,
`relay worker` prefork, `relay scheduler`, two sandbox case systems on 127.0.0.1): how fast
a recipient's backlog drains after its case system comes back, against the pipeline's steady
throughput measured first in the same run; how long until its first delivery; and another
recipient's latency meanwhile. Beside them issue 15's targets: drain at least 80 % of
steady; first delivery within 5 s of the return; the other recipient's received ->
delivered p99 under 2 s, over the whole episode (the burst of A's reports accepted while it
is down and its drain after it returns: both crowd the queues all recipients share).

    .venv/bin/python -m benchmarks.backlog [--reports 10000] [--steady-reports 500]
        [--trickle-rate 2] [--min-down 30] [--concurrency 4] [--verify-delay 1]
        [--setting RELAY_X=VALUE ...] [--admin-url URL] [--redis-url URL]

1. Steady: the worker stopped, --steady-reports reports for recipient A submitted, the
   worker started; the rate is A's deliveries from the first to the last (ledger times).
2. Down: A's case system answers 503 to everything, the breaker's liveness check included
   (the sandbox's `unavailable` fault; with `--deliveries-only`, its `error_rate` fault:
   503 to deliveries while the listing answers, which the breaker probes at its doubling
   open time, not at the first check that finds it back) while
   --reports reports for A are accepted, and at least --min-down seconds; B gets
   --trickle-rate reports/s from here to the end.
3. Return: the fault cleared; the drain rate is A's backlog delivered over the time from
   the return to its last delivery.
The worker's resident memory (parent and pool children) is read after the steady phase and
after the drain, and its growth scaled to 100,000 reports. The outbox poll, tick, retry base
and breaker are the product's defaults. A fresh database and Redis key prefix, removed
after; bounded by --timeout for the drain.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks.replay import ratio
from benchmarks.stage_latency import common_arguments, stack_from
from benchmarks.stage_stack import (
    RECIPIENT_A,
    RECIPIENT_B,
    STORED,
    Submitter,
    ledger_entries,
    progress,
    wait_until,
    worker_rss,
)
from benchmarks.stages import (
    against,
    events_per_second,
    growth_mb_per_100k,
    stage_seconds,
    summary,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=10_000, help="A's backlog")
    parser.add_argument("--steady-reports", type=int, default=500)
    parser.add_argument("--trickle-rate", type=float, default=2.0, help="B's reports/s")
    parser.add_argument("--min-down", type=float, default=30.0, help="seconds A is down")
    parser.add_argument("--timeout", type=float, default=5400.0, help="for the drain")
    parser.add_argument(
        "--deliveries-only", action="store_true", help="A fails deliveries but answers checks"
    )
    common_arguments(parser)
    args = parser.parse_args()
    with (
        stack_from("backlog", args) as stack,
        Submitter(stack) as submitter,
        Submitter(stack, threads=2) as trickler,
    ):
        warmup = [submitter.one((RECIPIENT_A, RECIPIENT_B)[n % 2]) for n in range(4)]
        wait_until(stack, warmup, {"VERIFIED"}, 120, "warm-up verified")

        progress(f"steady: worker stopped, {args.steady_reports} reports for {RECIPIENT_A}")
        worker = stack.processes["worker"]
        worker.stop()
        steady = submitter.many(RECIPIENT_A, args.steady_reports)
        worker.start()
        wait_until(stack, steady, {"VERIFIED"}, args.timeout, "steady verified")
        rss_before = worker_rss(stack)

        progress(f"{RECIPIENT_A} down; {RECIPIENT_B} gets {args.trickle_rate:g} reports/s")
        sandbox = stack.sandboxes[RECIPIENT_A]
        outage = {"error_rate": 1.0} if args.deliveries_only else {"unavailable": True}
        sandbox.set_faults(**outage)
        down_at = datetime.now(UTC)
        stop = threading.Event()
        trickle: list[str] = []
        thread = threading.Thread(
            target=lambda: trickle.extend(
                trickler.at_rate((RECIPIENT_B,), args.trickle_rate, stop=stop)[0]
            )
        )
        thread.start()
        try:
            backlog = submitter.many(RECIPIENT_A, args.reports)
            progress(f"{len(backlog)} reports accepted for {RECIPIENT_A} while it is down")
            time.sleep(max(0.0, args.min_down - (datetime.now(UTC) - down_at).total_seconds()))
            sandbox.set_faults(error_rate=0.0, unavailable=False)
            returned_at = datetime.now(UTC)
            progress(f"{RECIPIENT_A} is back after {(returned_at - down_at).total_seconds():.0f} s")
            wait_until(stack, backlog, STORED, args.timeout, "backlog delivered")
            drained_at = datetime.now(UTC)
        finally:
            stop.set()
            thread.join()
        wait_until(stack, trickle, STORED, 120, f"{RECIPIENT_B}'s trickle delivered")
        rss_after = worker_rss(stack)
        entries = ledger_entries(stack)
    phases = Phases(down_at, returned_at, drained_at)
    result = report(args, entries, steady, backlog, trickle, phases)
    passed = args.reports + len(trickle)
    result["worker_rss"] = {
        "after_steady_kb": rss_before["rss_kb"],
        "after_drain_kb": rss_after["rss_kb"],
        "processes": rss_after["processes"],
        "reports_between": passed,
        "mb_per_100k_reports": round(
            growth_mb_per_100k(rss_before["rss_kb"], rss_after["rss_kb"], passed), 1
        ),
    }
    result["targets"]["worker_rss_mb_per_100k_reports"] = against(
        result["worker_rss"]["mb_per_100k_reports"], "<", 50.0
    )
    print(json.dumps(result, indent=2))


@dataclass(frozen=True)
class Phases:
    down_at: datetime  # A's case system began to fail
    returned_at: datetime  # ... and stopped
    drained_at: datetime  # every report of A's backlog was delivered (or the drain timed out)


def report(
    args: argparse.Namespace,
    entries: Any,
    steady: list[str],
    backlog: list[str],
    trickle: list[str],
    phases: Phases,
) -> dict[str, Any]:
    steady_times = [entries[r]["DELIVERED"] for r in steady if "DELIVERED" in entries.get(r, {})]
    steady_rate = events_per_second(steady_times)
    returned = phases.returned_at
    drained = [
        entries[r]["DELIVERED"]
        for r in backlog
        if "DELIVERED" in entries.get(r, {}) and entries[r]["DELIVERED"] >= returned
    ]
    drain_rate = events_per_second(drained, since=returned)
    first = (min(drained) - returned).total_seconds() if drained else None
    last = (max(drained) - returned).total_seconds() if drained else None

    def b_latency(
        since: datetime, until: datetime, stage: tuple[str, str] = ("RECEIVED", "DELIVERED")
    ) -> dict[str, Any]:
        chosen = [r for r in trickle if since <= entries.get(r, {}).get("RECEIVED", since) < until]
        return summary(stage_seconds(entries, *stage, chosen))

    during_drain = b_latency(returned, phases.drained_at)
    episode = b_latency(phases.down_at, phases.drained_at)
    drain_ratio = ratio(drain_rate, steady_rate)
    return {
        "shape": f"split on PostgreSQL + Redis, worker prefork {args.concurrency}",
        "steady": {
            "reports": len(steady),
            "delivered_per_second": round(steady_rate, 1),
        },
        "backlog": {
            "reports": len(backlog),
            "down_seconds": round((returned - phases.down_at).total_seconds(), 1),
            "delivered_after_return": len(drained),
            "first_delivery_after_return_seconds": None if first is None else round(first, 2),
            "last_delivery_after_return_seconds": None if last is None else round(last, 1),
            "delivered_per_second_from_return": round(drain_rate, 1),
            "ratio_to_steady": round(drain_ratio, 3),
        },
        "other_recipient_received_to_delivered_seconds": {
            "while_down": b_latency(phases.down_at, returned),
            # where the time went while down: waiting to be routed, or to be delivered
            "while_down_received_to_routed": b_latency(
                phases.down_at, returned, ("RECEIVED", "ROUTED")
            ),
            "while_down_routed_to_delivered": b_latency(
                phases.down_at, returned, ("ROUTED", "DELIVERED")
            ),
            "while_draining": during_drain,
            "whole_episode": episode,
        },
        "targets": {
            "drain_ratio_to_steady": against(drain_ratio, ">=", 0.8),
            "first_delivery_after_return_seconds": against(first, "<=", 5.0),
            "other_recipient_p99_seconds": against(episode.get("p99"), "<", 2.0),
        },
    }


if __name__ == "__main__":
    main()
