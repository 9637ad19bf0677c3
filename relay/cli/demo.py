"""`relay demo` and `relay bench`: the whole pipeline on simulated municipalities."""

from __future__ import annotations

import json
import sys

import click
from click.core import ParameterSource

from relay.cli.checkout_bench import CHECKOUT_BENCHMARKS, run_checkout_benchmark
from relay.cli.options import startup_errors
from relay.logs import configure_logging


@click.command()
@click.option("--reports", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--timeout", default=90.0, show_default=True, type=float, help="Seconds to wait.")
@click.option("--faults", is_flag=True, help="Case systems that fail, go down and refuse.")
@startup_errors
def demo(reports: int, timeout: float, faults: bool) -> None:
    """The whole pipeline end to end with simulated municipalities, on the embedded default."""
    from relay.demo.run import run_demo

    configure_logging("WARNING")
    sys.exit(run_demo(reports=reports, timeout=timeout, faults=faults))


OWN_OPTIONS = ("reports", "concurrency", "timeout", "database_url", "broker_url", "verify_delay")


@click.command()
@click.option("--reports", default=300, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--timeout", default=300.0, show_default=True, type=float)
@click.option("--database-url", default=None, help="Bench this ledger instead of SQLite.")
@click.option("--broker-url", default=None, help="Bench this broker instead of SQLite.")
@click.option("--verify-delay", default=1.0, show_default=True, type=float)
@click.option(
    "--only",
    type=click.Choice(sorted(CHECKOUT_BENCHMARKS)),
    default=None,
    help="Instead, run this benchmark of the source checkout's benchmarks/ (each against "
    "its limit or per stage); its options go after `--`.",
)
@click.argument("benchmark_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@startup_errors
def bench(
    context: click.Context,
    reports: int,
    concurrency: int,
    timeout: float,
    database_url: str | None,
    broker_url: str | None,
    verify_delay: float,
    only: str | None,
    benchmark_args: tuple[str, ...],
) -> None:
    """Measure intake, delivery and verification end to end (JSON on stdout).

    With --only NAME, run a benchmark of the source checkout instead (`relay bench --only
    backlog -- --reports 1000`): intake-ratio, delivery-ratio, stages, backlog, worker-rss;
    see benchmarks/README.md.
    """
    if only is not None:
        own = [
            name
            for name in OWN_OPTIONS
            if context.get_parameter_source(name) == ParameterSource.COMMANDLINE
        ]
        if own:
            raise click.UsageError(
                f"with --only, give the benchmark's options after `--` "
                f"(relay bench --only {only} -- --{own[0].replace('_', '-')} …)"
            )
        sys.exit(run_checkout_benchmark(only, benchmark_args))
    if benchmark_args:
        raise click.UsageError("arguments after `--` are for a benchmark named by --only")
    from relay.demo.bench import run_bench

    configure_logging("WARNING")
    settings = {"RELAY_VERIFY_DELAY_SECONDS": str(verify_delay)}
    if database_url:
        settings["RELAY_DATABASE_URL"] = database_url
    if broker_url:
        settings["RELAY_BROKER_URL"] = broker_url
    result = run_bench(reports=reports, concurrency=concurrency, timeout=timeout, settings=settings)
    click.echo(json.dumps(result, indent=2))
    sys.exit(0 if result["not_verified"] == 0 else 1)
