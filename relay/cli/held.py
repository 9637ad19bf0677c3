"""`relay held list|reroute`: reports parked because no route was found.

Metadata only: ids, numbers, recipients, states and reasons, never a report's content.
"""

from __future__ import annotations

import sys
from collections import Counter

import click
from rich.console import Console
from rich.table import Table

from ledger.clock import rfc3339
from relay.bootstrap import bootstrap
from relay.cli.options import (
    echo_json,
    json_option,
    operator_option,
    progress,
    settings_and_logging,
    startup_errors,
)
from router.held import Outcome, Rerouted, held_ids, held_reports, reroute


@click.group()
def held() -> None:
    """Reports parked because no route was found: list them, route them again."""


@held.command("list")
@json_option
@startup_errors
def list_command(as_json: bool) -> None:
    """Every HELD report with the reason it is held, longest held first."""
    container = bootstrap(settings_and_logging(), content=False)
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
    container = bootstrap(settings_and_logging(), content=False)
    try:
        table = container.routes  # the file as the workers will read it; unusable: exit 2
        ids = list(dict.fromkeys(report_ids)) or held_ids(container.uow)
        results: list[Rerouted] = []
        with progress(quiet=as_json) as bar:
            task = bar.add_task("re-routing", total=len(ids))
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
                bar.advance(task)
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
