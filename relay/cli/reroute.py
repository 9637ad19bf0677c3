"""The steps of `relay held reroute`: checking the options and the operator's choice
against the routes file (its secrets not read: the workers' are not this shell's),
previewing, recording the requests and waiting for the workers, and the summary."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import click

from ledger.digest import sha256_hex
from relay.bootstrap import Container, StartupError
from relay.cli.options import echo_json, progress
from relay.routes_in_force import differing, tables_in_force
from router.choice import Choice, check_choice, decide
from router.held import Outcome, Result, request_reroute, wait_for_workers
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


def check_options(
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


def routes_file_table(container: Container, *, quiet: bool) -> RouteTable | None:
    """The routes file as a table, its secrets not read (this shell's are not the workers'):
    for checking a choice and for previews; None (with a warning) if it cannot be used, as
    the workers then keep the table they have. Warns when running processes use another."""
    path = container.settings.routes_file
    if path is None:
        raise StartupError("RELAY_ROUTES_FILE is not set")
    try:
        content = read_routes_file(path)
    except RoutesFileError as error:
        _warn(f"{error}", quiet)
        return None
    beats = tables_in_force(container.uow, container.now(), container.settings.heartbeat_seconds)
    if others := differing(beats, sha256_hex(content)):
        _warn(
            f"{len(others)} running processes have another routes table than {path};"
            " the workers route with theirs (relay routes status)",
            quiet,
        )
    try:
        return routes_from_bytes(path, content, read_secrets=False)
    except RoutesFileError as error:
        _warn(str(error).replace("\n  ", "; "), quiet)
        return None


def _warn(message: str, quiet: bool) -> None:
    if not quiet:
        click.echo(f"warning: {message}", err=True)


def refuse_bad_choice(
    container: Container, ids: list[str], recipient: str, table: RouteTable | None, force: bool
) -> None:
    """Refuse, before anything is recorded, a choice the routes file does not allow."""
    if table is None:
        click.echo(
            "relay: the choice cannot be checked against the routes file (above); fix the"
            " file (relay routes check), then choose again",
            err=True,
        )
        sys.exit(1)
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


def preview(
    container: Container, ids: list[str], choice: Choice, table: RouteTable | None, as_json: bool
) -> None:
    """What the routes file would decide for each report (the workers decide with theirs);
    without a usable file, only which reports would be asked for."""
    views = []
    with container.uow() as uow:
        for report_id in ids:
            report = uow.reports.get(report_id)
            if report is None:
                continue
            view: dict[str, Any] = {"id": report.id, "state": report.state.value}
            if table is not None:
                decision = decide(
                    report.submitted_kommunenummer,
                    report.submitted_bydelsnummer,
                    choice,
                    default_registry(),
                    table,
                )
                view["recipient"] = decision.recipient if isinstance(decision, Routed) else None
                view["reason"] = decision.reason if isinstance(decision, Held) else None
            views.append(view)
    if as_json:
        echo_json({"dry_run": True, "reports": views})
        return
    click.echo(
        f"dry run: {len(views)} reports; nothing recorded."
        + (" As the routes file decides (the workers decide with theirs):" if table else "")
    )
    for view in views:
        line = f"  {view['id']} ({view['state']})"
        if view.get("recipient"):
            line += f" -> {view['recipient']}"
        elif view.get("reason"):
            line += f" stays HELD: {view['reason']}"
        click.echo(line)


def request_and_wait(
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


def summarise(results: list[Result], operator: str, recipient: str | None, as_json: bool) -> None:
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
