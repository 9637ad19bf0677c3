"""Worker memory growth on the production shape (PostgreSQL + Redis; `relay api`, `relay
worker` prefork, `relay scheduler`, two sandbox case systems on 127.0.0.1): the resident set
of the worker's processes (the parent and its pool children, read from /proc) after a
warm-up and after --reports more reports are delivered and verified, and the growth scaled
to MB per 100,000 reports, beside issue 15's target (under 50).

    .venv/bin/python -m benchmarks.worker_rss [--reports 2000] [--warmup 200]
        [--concurrency 4] [--verify-delay 1] [--setting RELAY_X=VALUE ...]
        [--admin-url URL] [--redis-url URL]

The reports go to both recipients in turn, submitted in batches of 500 as fast as 8 threads
can, each batch verified before the next (so the ledger, not the broker, holds the work).
The sum of RSS counts pages the pool children share with their parent once per process, so
it overstates the memory used; its growth is what this measures. A fresh database and Redis
key prefix, removed after; each batch bounded by --timeout.
"""

from __future__ import annotations

import argparse
import json

from benchmarks.stage_latency import common_arguments, stack_from
from benchmarks.stage_stack import (
    RECIPIENT_A,
    RECIPIENT_B,
    Submitter,
    progress,
    wait_until,
    worker_rss,
)
from benchmarks.stages import against, growth_mb_per_100k

BATCH = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=600.0, help="per batch")
    common_arguments(parser)
    args = parser.parse_args()
    with (
        stack_from("rss", args) as stack,
        Submitter(stack) as submitter,
    ):

        def deliver(count: int, label: str) -> int:
            verified = 0
            for start in range(0, count, BATCH):
                size = min(BATCH, count - start)
                ids = submitter.many(RECIPIENT_A, size // 2)
                ids += submitter.many(RECIPIENT_B, size - size // 2)
                verified += wait_until(stack, ids, {"VERIFIED"}, args.timeout, label)
                progress(f"{label}: {start + size} of {count}; worker {worker_rss(stack)}")
            return verified

        deliver(args.warmup, "warm-up")
        before = worker_rss(stack)
        verified = deliver(args.reports, "measured")
        after = worker_rss(stack)
    growth = growth_mb_per_100k(before["rss_kb"], after["rss_kb"], args.reports)
    result = {
        "shape": f"split on PostgreSQL + Redis, worker prefork {args.concurrency}",
        "warmup_reports": args.warmup,
        "reports": args.reports,
        "verified": verified,
        "worker_before": before,
        "worker_after": after,
        "growth_mb": round((after["rss_kb"] - before["rss_kb"]) / 1024, 1),
        "targets": {"mb_per_100k_reports": against(growth, "<", 50.0)},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
