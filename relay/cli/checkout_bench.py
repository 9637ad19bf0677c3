"""`relay bench --only NAME -- ARGS`: run one of the source checkout's benchmarks.

The benchmarks that measure the pipeline against its limits and per stage (issue 15) live in
`benchmarks/` at the top of the repository, not in the wheel: they start the end-to-end tests'
stack (`tests/support`), need pgbench and a PostgreSQL they may create databases in, and are
for developers measuring a change, not for operators. So `relay` does not import them; it
runs `python -m benchmarks.<module>` in the checkout this `relay` was installed from (an
editable install, as `make` makes) or else the current directory, with the arguments after
`--`. From an installed wheel with no checkout it says so and exits 2.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import click

import relay

# --only's names -> module in benchmarks/
CHECKOUT_BENCHMARKS = {
    "intake-ratio": "intake_ratio",
    "delivery-ratio": "delivery_ratio",
    "stages": "stage_latency",
    "backlog": "backlog",
    "worker-rss": "worker_rss",
}


def checkout_candidates() -> list[Path]:
    """Where a checkout may be: above the imported `relay` package, then the current
    directory."""
    return [Path(relay.__file__).resolve().parents[1], Path.cwd()]


def find_checkout(candidates: Iterable[Path], module: str) -> Path | None:
    """The first candidate holding benchmarks/<module>.py and the test stack it starts."""
    for root in candidates:
        if (root / "benchmarks" / f"{module}.py").is_file() and (
            root / "tests" / "support" / "stack.py"
        ).is_file():
            return root
    return None


def run_checkout_benchmark(name: str, arguments: Sequence[str]) -> int:
    module = CHECKOUT_BENCHMARKS[name]
    root = find_checkout(checkout_candidates(), module)
    if root is None:
        click.echo(
            f"relay bench --only {name}: benchmarks/{module}.py is part of the source "
            "checkout, not of the installed package; run it from a checkout "
            f"(python -m benchmarks.{module}) or from a directory that holds one.",
            err=True,
        )
        return 2
    command = [sys.executable, "-m", f"benchmarks.{module}", *arguments]
    click.echo(f"relay bench: running {' '.join(command[1:])} in {root}", err=True)
    return subprocess.run(command, cwd=root, check=False).returncode  # noqa: S603 - our own
