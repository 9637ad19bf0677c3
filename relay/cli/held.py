"""`relay held list|reroute|resolve`: reports parked because no route was found.

`reroute` records the operator's request in the ledger and waits for a worker to act on it:
the worker routes with the routes table it has in force, never with this shell's view of
the routes file or of the secrets. Metadata only: ids, numbers, recipients, states and
reasons, never a report's content.
"""

from __future__ import annotations

import sys
from collections import Counter

import click
from rich.table import Table

from ledger.clock import rfc3339
from ledger.digest import sha256_hex
from relay.bootstrap import Container, StartupError, bootstrap
from relay.cli.ids import full_id, full_ids
from relay.cli.options import (
    echo_json,
    json_option,
    operator_option,
    progress,
    settings_and_logging,
    startup_errors,
)
from relay.cli.views import print_table, whole_column
from relay.routes_in_force import differing, tables_in_force
from router.choice import Choice, check_choice, decide
from router.held import (
    Outcome,
    Result,
    held_ids,
    held_reports,
    request_reroute,
    resolve_held,
    wait_for_workers,
)
from router.registry import default_registry
from router.resolve import Held, Routed
from router.routes import RoutesFileError, RouteTable, read_routes_file, routes_from_bytes

HEADINGS = {
    Outcome.ROUTED: "routed, by recipient",
    Outcome.STILL_HELD: "still HELD, by reason",
    Outcome.PENDING: "requested; no worker has acted on it yet (one will when it runs)",
    Outcome.NOT_HELD: "not HELD (nothing done), by state",
    Outcome.NO_SUCH_REPORT: "no such report",
}


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
    _check_options(report_ids, every, recipient, force, operator, reason)
    choice = Choice(recipient, force)
    container = bootstrap(settings_and_logging(), content=False)
    try:
        ids = full_ids(container.uow, report_ids) if report_ids else held_ids(container.uow)
        table = _routes_file_table(container, quiet=as_json)
        if recipient is not None:
            _check_choice(container, ids, recipient, table, force)
        if dry_run:
            _preview(container, ids, choice, table, as_json)
            return
        results = _request_and_wait(container, ids, choice, operator, reason, wait_seconds, as_json)
    finally:
        container.close()
    _summarise(results, operator, recipient, as_json)
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


def _check_options(
    report_ids: tuple[str, ...],
    every: bool,
    recipient: str | None,
    force: bool,
    operator: str,
    reason: str | None,
) -> None:
    if bool(report_ids) == every:
        raise click.UsageError("give the ids of HELD reports, or --all")
    if recipient is not None and every:
        raise click.UsageError("--recipient is for reports you name, not --all")
    if force and recipient is None:
        raise click.UsageError("--force goes with --recipient")
    if recipient is not None and not (reason or "").strip():
        raise click.UsageError("--recipient needs --reason: why this recipient")
    if not operator.strip():
        raise click.UsageError("--operator must not be empty")


def _routes_file_table(container: Container, *, quiet: bool) -> RouteTable:
    """The routes file as a table, its secrets not read (this shell's are not the workers'):
    for checking a choice and for previews. Warns when running processes use another."""
    path = container.settings.routes_file
    if path is None:
        raise StartupError("RELAY_ROUTES_FILE is not set")
    try:
        content = read_routes_file(path)
        table = routes_from_bytes(path, content, read_secrets=False)
    except RoutesFileError as error:
        raise StartupError(f"{error} (relay routes check --file {path})") from None
    settings = container.settings
    beats = tables_in_force(container.uow, container.now(), settings.heartbeat_seconds)
    others = differing(beats, sha256_hex(content))
    if others and not quiet:
        click.echo(
            f"warning: {len(others)} running processes have another routes table than"
            f" {path}; the workers route with theirs (relay routes status)",
            err=True,
        )
    return table


def _check_choice(
    container: Container, ids: list[str], recipient: str, table: RouteTable, force: bool
) -> None:
    """Refuse, before anything is recorded, a choice the routes file does not allow."""
    problems = []
    with container.uow() as uow:
        for report_id in ids:
            report = uow.reports.get(report_id)
            if report is None:
                continue
            problem = check_choice(
                report.submitted_kommunenummer,
                recipient,
                table.recipients,
                default_registry(),
                force=force,
            )
            if problem:
                problems.append(f"{report_id}: {problem}")
    if problems:
        for problem in problems:
            click.echo(f"relay: {problem}", err=True)
        sys.exit(1)


def _preview(
    container: Container, ids: list[str], choice: Choice, table: RouteTable, as_json: bool
) -> None:
    """What the routes file would decide for each report (the workers decide with theirs)."""
    views = []
    with container.uow() as uow:
        for report_id in ids:
            report = uow.reports.get(report_id)
            if report is None:
                continue
            decision = decide(
                report.submitted_kommunenummer,
                report.submitted_bydelsnummer,
                choice,
                default_registry(),
                table,
            )
            views.append(
                {
                    "id": report.id,
                    "state": report.state.value,
                    "recipient": decision.recipient if isinstance(decision, Routed) else None,
                    "reason": decision.reason if isinstance(decision, Held) else None,
                }
            )
    if as_json:
        echo_json({"dry_run": True, "reports": views})
        return
    click.echo(f"dry run: {len(views)} reports; nothing recorded. As the routes file decides:")
    for view in views:
        outcome = f"-> {view['recipient']}" if view["recipient"] else f"HELD: {view['reason']}"
        click.echo(f"  {view['id']} ({view['state']}) {outcome}")


def _request_and_wait(
    container: Container,
    ids: list[str],
    choice: Choice,
    operator: str,
    reason: str | None,
    wait_seconds: float,
    quiet: bool,
) -> list[Result]:
    with progress(quiet=quiet) as bar:
        asking = bar.add_task("recording requests", total=len(ids))
        requested = []
        for report_id in ids:
            requested.append(
                request_reroute(
                    container.uow,
                    report_id,
                    container.now,
                    actor=f"operator:{operator}",
                    reason=reason,
                    choice=choice,
                )
            )
            bar.advance(asking)
        if wait_seconds == 0:
            return requested
        waiting = bar.add_task("waiting for the workers", total=len(ids))
        return wait_for_workers(
            container.uow,
            requested,
            timeout_seconds=wait_seconds,
            on_progress=lambda done: bar.update(waiting, completed=done),
        )


def _summarise(results: list[Result], operator: str, recipient: str | None, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "operator": operator,
                "recipient": recipient,
                **{
                    outcome.value: [
                        {"id": r.id, "detail": r.detail} for r in results if r.outcome is outcome
                    ]
                    for outcome in HEADINGS
                },
            }
        )
        return
    click.echo(f"{len(results)} reports asked to be routed again by operator:{operator}")
    for outcome, heading in HEADINGS.items():
        mine = [r for r in results if r.outcome is outcome]
        if not mine:
            continue
        click.echo(f"{heading}: {len(mine)}")
        if outcome in (Outcome.NO_SUCH_REPORT, Outcome.PENDING):
            click.echo("".join(f"  {r.id}\n" for r in mine), nl=False)
            continue
        for detail, count in Counter(r.detail for r in mine).most_common():
            click.echo(f"  {count:>6}  {detail}")
