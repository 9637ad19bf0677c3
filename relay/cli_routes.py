"""`relay routes check|reload` and `relay held list|reroute`: the operators' routing commands.

Metadata only: ids, numbers, recipients, states and reasons, never a report's content.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.clock import rfc3339
from relay.bootstrap import StartupError, bootstrap, load_settings
from relay.cli_support import (
    echo_json,
    json_option,
    operator_option,
    settings_and_logging,
    startup_errors,
)
from relay.routing import usable_routes
from relay.settings import Settings
from router.check import Finding, Kind, check
from router.held import Outcome, Rerouted, held_ids, held_reports, reroute
from router.live import CHECK_SECONDS, sha256_hex
from router.registry import default_registry
from router.routes import RoutesFileError, parse_routes, read_routes_file


@click.group()
def routes() -> None:
    """The routes file: check it, and have the running processes use a new one."""


@routes.command("check")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The routes file to check (default: RELAY_ROUTES_FILE).",
)
@json_option
@startup_errors
def check_command(path: Path | None, as_json: bool) -> None:
    """Find gaps, numbers that do not exist today, and numbers served twice.

    Lists every municipality (and every bydel, where one is routed by bydel) without a
    recipient, every served number that does not exist today (and what it is now), and
    every number served twice. Exit status 1 if anything is wrong, 0 if the file is
    clean. Secrets are not read.
    """
    path = path or _configured_routes_file(load_settings())
    try:
        document = parse_routes(path, read_routes_file(path))
    except RoutesFileError as error:
        _refused(error, as_json)
    findings = check(document.recipients, default_registry())
    if as_json:
        echo_json(
            {
                "file": str(path),
                "ok": not findings,
                "recipients": len(document.recipients),
                "findings": [{"kind": f.kind.value, "message": f.message} for f in findings],
            }
        )
    elif findings:
        click.echo(f"{path}: {len(findings)} problems")
        _echo_findings(findings)
    else:
        click.echo(
            f"{path}: clean. {len(document.recipients)} recipients; every municipality"
            " (and every bydel where one is routed by bydel) has exactly one."
        )
    sys.exit(1 if findings else 0)


@routes.command("reload")
@json_option
@startup_errors
def reload_command(as_json: bool) -> None:
    """Check the routes file as running processes will, then make them use it.

    RELAY_ROUTES_FILE is checked with this shell's environment (secrets) and then
    touched. Every `relay run` and `relay worker` process looks at the file at most once
    a second when it routes or delivers; a changed file (the touch guarantees they see
    one) is used from then on. Exit status 1, and nothing touched, if they would refuse it.
    """
    settings = load_settings()
    path = _configured_routes_file(settings)
    try:
        content = read_routes_file(path)
        table = usable_routes(path, content, settings)
    except RoutesFileError as error:
        _refused(error, as_json)
    findings = check(list(table.recipients.values()), default_registry())
    try:
        os.utime(path)
        touched = None
    except OSError as error:
        touched = error.strerror
    if as_json:
        echo_json(
            {
                "file": str(path),
                "ok": True,
                "sha256": sha256_hex(content),
                "recipients": len(table.recipients),
                "touched": touched is None,
                "findings": [{"kind": f.kind.value, "message": f.message} for f in findings],
            }
        )
        return
    count = len(table.recipients)
    click.echo(
        f"{path}: valid, {count} recipient{'' if count == 1 else 's'}"
        f" (sha256 {sha256_hex(content)})"
    )
    if touched is None:
        click.echo(
            f"touched: running processes use it from their next routing or delivery"
            f" (they look at most every {CHECK_SECONDS:g} s) and log 'routes reloaded'"
        )
    else:
        click.echo(
            f"could not touch it ({touched}): processes still notice a changed file"
            " unless its modification time and size were kept"
        )
    if findings:
        click.echo(f"relay routes check finds {len(findings)} problems (their reports are HELD):")
        _echo_findings([f for f in findings if f.kind is not Kind.UNSERVED])
        if gaps := sum(1 for f in findings if f.kind is Kind.UNSERVED):
            click.echo(f"{Kind.UNSERVED.value}: {gaps} (listed by relay routes check)")


@click.group()
def held() -> None:
    """Reports parked because no route was found: list them, route them again."""


@held.command("list")
@json_option
@startup_errors
def list_command(as_json: bool) -> None:
    """Every HELD report with the reason it is held, longest held first."""
    container = bootstrap(settings_and_logging())
    try:
        reports = held_reports(container.uow)
    finally:
        container.close()
    if as_json:
        echo_json(
            [
                {
                    "id": report.id,
                    "kommunenummer": report.kommunenummer,
                    "bydelsnummer": report.bydelsnummer,
                    "received_at": rfc3339(report.received_at),
                    "held_at": rfc3339(report.held_at),
                    "held_by": report.by,
                    "reason": report.reason,
                }
                for report in reports
            ]
        )
        return
    table = Table(title=f"{len(reports)} HELD reports", title_justify="left")
    for column in ("id", "received", "held since", "kommune", "reason"):
        table.add_column(column, overflow="fold")
    for report in reports:
        place = report.kommunenummer + (f"-{report.bydelsnummer}" if report.bydelsnummer else "")
        held_since = f"{rfc3339(report.held_at)} ({report.by})"
        table.add_row(report.id, rfc3339(report.received_at), held_since, place, report.reason)
    Console().print(table)


@held.command("reroute")
@click.argument("report_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every HELD report.")
@operator_option
@click.option("--reason", default=None, help="Why; recorded in the ledger with the operator.")
@json_option
@startup_errors
def reroute_command(
    report_ids: tuple[str, ...], every: bool, operator: str, reason: str | None, as_json: bool
) -> None:
    """Route HELD reports again with the current routes file.

    Each report becomes ROUTED (and is delivered), or stays HELD with the new reason; both
    are recorded with the operator. Exit status 1 if any report is still held, was not
    HELD, or does not exist.
    """
    if bool(report_ids) == every:
        raise click.UsageError("give the ids of HELD reports, or --all")
    if not operator.strip():
        raise click.UsageError("--operator must not be empty")
    container = bootstrap(settings_and_logging())
    try:
        table = container.routes  # the file as the workers will read it; unusable: exit 2
        ids = list(dict.fromkeys(report_ids)) or held_ids(container.uow)
        results: list[Rerouted] = []
        with _progress(quiet=as_json) as progress:
            task = progress.add_task("re-routing", total=len(ids))
            for report_id in ids:
                results.append(
                    reroute(
                        container.uow,
                        table,
                        report_id,
                        container.now,
                        actor=f"operator:{operator}",
                        reason=reason,
                    )
                )
                progress.advance(task)
    finally:
        container.close()
    _summarise(results, operator, as_json)
    sys.exit(0 if all(r.outcome is Outcome.ROUTED for r in results) else 1)


def _summarise(results: list[Rerouted], operator: str, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "operator": operator,
                **{
                    outcome.value: [
                        {"id": r.id, "detail": r.detail} for r in results if r.outcome is outcome
                    ]
                    for outcome in Outcome
                },
            }
        )
        return
    click.echo(f"{len(results)} reports re-routed by operator:{operator}")
    headings = {
        Outcome.ROUTED: "routed, by recipient",
        Outcome.STILL_HELD: "still HELD, by reason",
        Outcome.NOT_HELD: "not HELD (nothing done), by state",
        Outcome.NO_SUCH_REPORT: "no such report",
    }
    for outcome, heading in headings.items():
        mine = [r for r in results if r.outcome is outcome]
        if not mine:
            continue
        click.echo(f"{heading}: {len(mine)}")
        if outcome is Outcome.NO_SUCH_REPORT:
            click.echo("".join(f"  {r.id}\n" for r in mine), nl=False)
            continue
        for detail, count in Counter(r.detail for r in mine).most_common():
            click.echo(f"  {count:>6}  {detail}")


def _echo_findings(findings: list[Finding]) -> None:
    for kind, count in Counter(f.kind for f in findings).items():
        click.echo(f"{kind.value}: {count}")
        for finding in findings:
            if finding.kind is kind:
                click.echo(f"  {finding.message}")


def _refused(error: RoutesFileError, as_json: bool) -> NoReturn:
    if as_json:
        echo_json({"ok": False, "error": str(error)})
    else:
        click.echo(f"relay: {error}", err=True)
    sys.exit(1)


def _configured_routes_file(settings: Settings) -> Path:
    path = settings.routes_file
    if path is None:
        raise StartupError("RELAY_ROUTES_FILE is not set (or give --file where offered)")
    return path


def _progress(*, quiet: bool) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(
        *columns, TimeElapsedColumn(), console=Console(stderr=True), disable=quiet, transient=True
    )
