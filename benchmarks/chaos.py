"""The chaos suite's long run: many reports, many faults, both brokers; invariants counted.

    .venv/bin/python benchmarks/chaos.py --broker redis --reports 10000 --faults 33
    .venv/bin/python benchmarks/chaos.py --broker rabbitmq --reports 10000 --faults 33

Runs as root or as a user that may start PostgreSQL and the broker (it starts private ones
on free ports on 127.0.0.1, and kills and restarts them). Prints progress, then a JSON
summary; exit status 1 if any invariant failed. The harness is tests/support/chaos.py, the
same as the CI-size suite's (tests/chaos/test_chaos_suite.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.chaos import FAULTS, run_chaos, schedule, stamp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rate", type=float, default=20.0, help="reports per second offered")
    parser.add_argument("--faults", type=int, default=33)
    parser.add_argument("--first-fault", type=float, default=20.0, help="seconds into the load")
    parser.add_argument("--recovery-bound", type=float, default=90.0)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON summary here")
    args = parser.parse_args()

    kinds = [f for f in FAULTS if args.broker == "redis" or f != "flushall"]
    load_seconds = args.reports / args.rate
    spacing = max(5.0, (load_seconds - args.first_fault) / args.faults)
    plan = schedule(kinds, args.faults, args.first_fault, spacing)
    print(
        f"{stamp()} {args.broker}: {args.reports} reports at {args.rate:g}/s, "
        f"{args.faults} faults every {spacing:.0f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="relay-chaos-") as workdir:
        result = run_chaos(
            Path(workdir),
            args.broker,
            reports=args.reports,
            threads=args.threads,
            rate=args.rate,
            faults=plan,
            recovery_bound=args.recovery_bound,
            settle_timeout=max(600.0, 2 * load_seconds),
            progress=lambda line: print(f"{stamp()} {line}", flush=True),
        )
    summary = result.summary()
    violations = result.violations(args.recovery_bound)
    summary["violations"] = violations
    summary["recoveries"] = [
        {"fault": r.fault, "at_s": round(r.at), "moving_again_s": r.seconds and round(r.seconds, 1)}
        for r in result.recoveries
    ]
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
