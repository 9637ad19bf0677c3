"""`relay held list|reroute|resolve`: reports parked because no route was found.

`reroute` records the operator's request in the ledger and waits for a worker to act on it:
the worker routes with the routes table it has in force, never with this shell's view of
the routes file or of the secrets. Metadata only: ids, numbers, recipients, states and
reasons, never a report's content.
"""

from __future__ import annotations

import sys

import click
from rich.table import Table

from ledger.clock import rfc3339
from relay.bootstrap import bootstrap
from relay.cli import reroute
from relay.cli.ids import full_id, full_ids
from relay.cli.options import (
    echo_json,
    json_option,
    operator_option,
    settings_and_logging,
    startup_errors,
)
from relay.cli.views import print_table, whole_column
from router.choice import Choice
from router.held import (
    Outcome,
    held_ids,
    held_reports,
    resolve_held,
)


@click.group()
def held() -> None:
    """Reports parked because no route was found: list, route again, resolve by hand."""


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
                    "reroute_requested": report.requested,
                }
                for report in reports
            ]
        )
        return
    table = Table(title=f"{len(reports)} HELD reports", title_justify="left")
    whole_column(table, "id", (report.id for report in reports))
    for column in ("received", "held since", "kommune", "reason"):
        table.add_column(column, overflow="fold")
    for report in reports:
        place = report.kommunenummer + (f"-{report.bydelsnummer}" if report.bydelsnummer else "")
        held_since = f"{rfc3339(report.held_at)} ({report.by})"
        reason = f"reroute requested: {report.reason}" if report.requested else report.reason
        table.add_row(report.id, rfc3339(report.received_at), held_since, place, reason)
    print_table(table)


@held.command("reroute")
@click.argument("report_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every HELD report.")
@click.option(
    "--recipient",
    default=None,
    help="Send it to this recipient: one that serves a part of a split number (or today's"
    " number, or one of its bydeler). Needs --reason.",
)
@click.option(
    "--force", is_flag=True, help="With --recipient: skip that check. Say why in --reason."
)
@operator_option
@click.option("--reason", default=None, help="Why; recorded in the ledger with the operator.")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(0),
    default=30,
    show_default=True,
    help="Seconds to wait for the workers to act (0: record the request and return).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be asked; record nothing.")
@json_option
@startup_errors
def reroute_command(
    report_ids: tuple[str, ...],
    every: bool,
    recipient: str | None,
    force: bool,
    operator: str,
    reason: str | None,
    wait_seconds: float,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Ask the workers to route HELD reports again, as the routes decide or to a recipient
    you choose.

    The request is recorded in the ledger (with the operator and the reason) and a worker
    routes each report with the routes table it has in force: ROUTED (then delivered), or
    HELD again with the reason. IDs may be unique prefixes (8 characters or more). Exit
    status 1 if any report is not routed (or, with --wait 0, could not be asked for).
    """
    reroute.check_options(report_ids, every, recipient, force, operator, reason)
    choice = Choice(recipient, force)
    container = bootstrap(settings_and_logging(), content=False)
    try:
        ids = full_ids(container.uow, report_ids) if report_ids else held_ids(container.uow)
        table = reroute.routes_file_table(container, quiet=as_json)
        if recipient is not None:
            reroute.refuse_bad_choice(container, ids, recipient, table, force)
        if dry_run:
            reroute.preview(container, ids, choice, table, as_json)
            return
        results = reroute.request_and_wait(
            container, ids, choice, operator, reason, wait_seconds, as_json
        )
    finally:
        container.close()
    reroute.summarise(results, operator, recipient, as_json)
    done = {Outcome.PENDING} if wait_seconds == 0 else {Outcome.ROUTED}
    sys.exit(0 if all(r.outcome in done for r in results) else 1)


@held.command("resolve")
@click.argument("report_id")
@click.option("--reason", required=True, help="How it was handled; recorded in the ledger.")
@operator_option
@json_option
@startup_errors
def resolve_command(report_id: str, reason: str, operator: str, as_json: bool) -> None:
    """Mark a HELD report RESOLVED_MANUALLY: it was handled outside the pipeline (sent to
    the right service by other means). Recorded with the operator and the reason."""
    if not reason.strip() or not operator.strip():
        raise click.UsageError("--reason and --operator must not be empty")
    container = bootstrap(settings_and_logging(), content=False)
    try:
        result = resolve_held(
            container.uow,
            full_id(container.uow, report_id),
            container.now,
            actor=f"operator:{operator}",
            reason=reason,
        )
    finally:
        container.close()
    if as_json:
        echo_json({"id": result.id, "outcome": result.outcome.value, "detail": result.detail})
    elif result.outcome is Outcome.RESOLVED:
        click.echo(f"{result.id}: RESOLVED_MANUALLY by operator:{operator}")
    else:
        click.echo(f"relay: {result.id} is {result.detail or 'unknown'}, not HELD", err=True)
    sys.exit(0 if result.outcome is Outcome.RESOLVED else 1)
