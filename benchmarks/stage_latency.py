"""Per-stage latency at a fixed rate, from the ledger's own timestamps, on the production
shape (PostgreSQL + Redis; `relay api`, `relay worker` prefork, `relay scheduler`, two
sandbox case systems on 127.0.0.1). Prints p50/p99 of each step (received -> routed ->
delivering -> delivered -> verified), and beside them issue 15's targets: received ->
delivered p50 under 0.15 s; delivered -> verified within the verify delay + 0.2 s (judged
on p99).

    .venv/bin/python -m benchmarks.stage_latency [--rate 5] [--seconds 60] [--verify-delay 1]
        [--concurrency 4] [--setting RELAY_X=VALUE ...]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/0]

The outbox poll, scheduler tick and retry base are the product's defaults (the end-to-end
tests shorten them); `--setting` changes any setting for a run. A few warm-up reports go
through first and are left out. The reports alternate between the two recipients. A fresh
database (dropped after) and a key prefix of its own on Redis (deleted after); bounded by
--timeout after the last submission.
"""

from __future__ import annotations

import argparse
import json
from contextlib import AbstractContextManager
from typing import Any

from benchmarks.stage_stack import (
    RECIPIENT_A,
    RECIPIENT_B,
    Submitter,
    bench_stack,
    ledger_entries,
    progress,
    wait_until,
)
from benchmarks.stages import against, stage_seconds, stage_summaries, summary
from tests.support.stack import Stack


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every stage benchmark takes."""
    parser.add_argument("--concurrency", type=int, default=4, help="worker pool size")
    parser.add_argument("--verify-delay", type=float, default=1.0)
    parser.add_argument(
        "--setting", action="append", default=[], metavar="RELAY_X=VALUE", help="repeatable"
    )
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")


def settings_from(args: argparse.Namespace) -> dict[str, str]:
    settings = {"RELAY_VERIFY_DELAY_SECONDS": str(args.verify_delay)}
    for each in args.setting:
        name, separator, value = each.partition("=")
        if not separator or not name.startswith("RELAY_"):
            raise SystemExit(f"--setting takes RELAY_NAME=VALUE, not {each!r}")
        settings[name] = value
    return settings


def stack_from(name: str, args: argparse.Namespace) -> AbstractContextManager[Stack]:
    """The benchmark stack the common options ask for (`bench_stack`)."""
    return bench_stack(
        name,
        admin_url=args.admin_url,
        redis_url=args.redis_url,
        concurrency=args.concurrency,
        settings=settings_from(args),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=5.0, help="reports per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=int, default=10, help="reports before the run")
    parser.add_argument("--timeout", type=float, default=120.0)
    common_arguments(parser)
    args = parser.parse_args()
    settings = settings_from(args)
    with (
        stack_from("stages", args) as stack,
        Submitter(stack) as submitter,
    ):
        warmup = [submitter.one((RECIPIENT_A, RECIPIENT_B)[n % 2]) for n in range(args.warmup)]
        wait_until(stack, warmup, {"VERIFIED"}, args.timeout, "warm-up verified")
        progress(f"submitting {args.rate:g} reports/s for {args.seconds:g} s")
        ids, achieved = submitter.at_rate((RECIPIENT_A, RECIPIENT_B), args.rate, args.seconds)
        verified = wait_until(stack, ids, {"VERIFIED"}, args.timeout, "verified")
        entries = ledger_entries(stack)
        settings = {**stack.env, **settings}
    result = report(args, settings, ids, achieved, verified, entries)
    print(json.dumps(result, indent=2))


def report(
    args: argparse.Namespace,
    settings: dict[str, str],
    ids: list[str],
    achieved: float,
    verified: int,
    entries: Any,
) -> dict[str, Any]:
    stages = stage_summaries(entries, ids)
    delay = args.verify_delay
    excess = summary(stage_seconds(entries, "DELIVERED", "VERIFIED", ids), minus=delay)
    names = ("RELAY_OUTBOX_POLL_SECONDS", "RELAY_SCHEDULER_TICK_SECONDS")
    return {
        "shape": f"split on PostgreSQL + Redis, worker prefork {args.concurrency}",
        "settings": {name: settings[name] for name in (*names, "RELAY_VERIFY_DELAY_SECONDS")},
        "rate": args.rate,
        "seconds": args.seconds,
        "submitted": len(ids),
        "submitted_per_second": round(achieved, 2),
        "verified": verified,
        "stages_seconds": stages,
        "delivered_to_verified_minus_delay_seconds": excess,
        "targets": {
            "received_to_delivered_p50_seconds": against(
                stages["received_to_delivered"].get("p50"), "<", 0.15
            ),
            "delivered_to_verified_p99_minus_delay_seconds": against(excess.get("p99"), "<=", 0.2),
        },
    }


if __name__ == "__main__":
    main()
