"""`relay dlq …`: the dead letters, for the operator who must drain them. Metadata only."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import click
from rich.progress import track
from rich.table import Table

from deliverers.dead_letters import ActionResult, redrive, resolve_manually
from ledger.lifecycle import State
from ledger.records import DeadLetterKind, Report
from relay.bootstrap import Container, bootstrap
from relay.cli.ids import full_id, full_ids
from relay.cli.options import (
    echo_json,
    json_option,
    operator_option,
    settings_and_logging,
    startup_errors,
)
from relay.cli.views import attempt_view, dead_letter_view, print_table, whole_column

KIND_HELP = {
    DeadLetterKind.REJECTED: "the case system refused it",
    DeadLetterKind.CONTENT_MISMATCH: "stored with another hash than ours",
    DeadLetterKind.EXHAUSTED: "retries used up",
    DeadLetterKind.RECEIPT_FAILED: "the fiks-io mailbox answered feilet",
    DeadLetterKind.MISSING: "acknowledged, then lost by the case system 3 times",
}


def _container() -> Container:
    return bootstrap(settings_and_logging(), content=False)


@click.group()
def dlq() -> None:
    """Dead-lettered reports: list, inspect, send again, or mark as resolved."""


@dlq.command("list")
@click.option("--recipient", default=None, help="Only this recipient's.")
@click.option(
    "--reason",
    "kind",
    type=click.Choice([kind.value for kind in DeadLetterKind]),
    default=None,
    help="Only this kind: "
    + "; ".join(f"{kind.value} ({meaning})" for kind, meaning in KIND_HELP.items())
    + ".",
)
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1))
@json_option
@startup_errors
def list_dead_letters(recipient: str | None, kind: str | None, limit: int, as_json: bool) -> None:
    """Dead-lettered reports, oldest first."""
    container = _container()
    with container.uow() as uow:
        reports = uow.queries.reports_in(
            [State.DEAD_LETTERED],
            recipient=recipient,
            kind=DeadLetterKind(kind) if kind else None,
            limit=limit,
        )
    container.close()
    views = [dead_letter_view(report) for report in reports]
    if as_json:
        echo_json(views)
        return
    _print_dead_letters(views)


def _print_dead_letters(views: list[dict[str, Any]]) -> None:
    table = Table(title=f"{len(views)} dead-lettered reports", title_justify="left")
    whole_column(table, "id", (view["id"] for view in views))
    whole_column(table, "recipient", (view["recipient"] for view in views))
    for column in ("kommune", "kind", "attempts", "since", "reason"):
        table.add_column(column, overflow="fold")
    for view in views:
        table.add_row(
            view["id"],
            view["recipient"] or "-",
            view["kommunenummer"],
            view["kind"] or "-",
            str(view["attempts"]),
            view["dead_lettered_at"],
            view["reason"] or "",
        )
    print_table(table)


@dlq.command("show")
@click.argument("report_id")
@json_option
@startup_errors
def show(report_id: str, as_json: bool) -> None:
    """One report's attempts and their outcomes. ID may be a unique prefix (8+ characters)."""
    container = _container()
    try:
        report_id = full_id(container.uow, report_id)
        with container.uow() as uow:
            report = uow.reports.get(report_id)
            history = uow.reports.history(report_id) if report else []
    finally:
        container.close()
    if report is None:
        click.echo(f"relay: no report {report_id}", err=True)
        sys.exit(1)
    view = {**dead_letter_view(report), "state": report.state.value}
    view["history"] = [attempt_view(t) for t in history]
    if as_json:
        echo_json(view)
        return
    for key in ("id", "state", "recipient", "kommunenummer", "kind", "attempts", "reason"):
        click.echo(f"{key:>14}: {view[key]}")
    table = Table(title="history", title_justify="left")
    for column in ("#", "at", "transition", "by", "attempt", "outcome", "ms", "reason"):
        table.add_column(column, overflow="fold")
    for entry in view["history"]:
        outcome = entry.get("status_code") or entry.get("error") or ""
        table.add_row(
            str(entry["sequence"]),
            entry["at"],
            f"{entry['from'] or '-'} → {entry['to']}",
            entry["actor"],
            str(entry.get("attempt", "")),
            str(outcome),
            str(entry.get("duration_ms", "")),
            entry["reason"] or "",
        )
    print_table(table)


@dlq.command("redrive")
@click.argument("report_ids", nargs=-1)
@click.option("--recipient", default=None, help="Every dead letter of this recipient.")
@click.option("--all", "everything", is_flag=True, help="Every dead letter.")
@click.option("--reason", required=True, help="Why it is sent again; recorded in the ledger.")
@operator_option
@click.option("--yes", is_flag=True, help="With --recipient or --all: do not ask first.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent again; do nothing.")
@json_option
@startup_errors
def redrive_command(
    report_ids: tuple[str, ...],
    recipient: str | None,
    everything: bool,
    reason: str,
    operator: str,
    yes: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Send dead-lettered reports again, routed with today's routes.

    IDs may be unique prefixes (8 characters or more). With --recipient or --all, shows
    how many would be sent again, by recipient and kind, and asks before it acts (--yes:
    does not ask)."""
    chosen = sum(bool(x) for x in (report_ids, recipient, everything))
    if chosen != 1:
        raise click.UsageError("give report ids, or --recipient R, or --all (one of them)")
    if not reason.strip() or not operator.strip():
        raise click.UsageError("--reason and --operator must not be empty")
    container = _container()
    try:
        reports = _dead_letters(container, report_ids, recipient)
        if dry_run:
            _plan(reports, as_json, dry_run=True)
            return
        if (recipient or everything) and not yes:
            _plan(reports, as_json=False, dry_run=False)
            if reports:
                click.confirm(f"Send these {len(reports)} reports again?", abort=True, err=True)
        container.check_routes()
        table = container.routes

        def send_again(report_id: str) -> ActionResult:
            return redrive(
                container.uow, table, report_id, container.now, operator=operator, reason=reason
            )

        results = _each([report.id for report in reports], send_again, as_json)
    finally:
        container.close()
    _finish(results, as_json, "redriven")


def _dead_letters(
    container: Container, report_ids: tuple[str, ...], recipient: str | None
) -> list[Report]:
    """The reports named (whole ids or prefixes), or every dead letter (of `recipient`)."""
    with container.uow() as uow:
        if not report_ids:
            return uow.queries.reports_in(
                [State.DEAD_LETTERED], recipient=recipient, limit=1_000_000
            )
    ids = full_ids(container.uow, report_ids)
    with container.uow() as uow:
        return [report for report in map(uow.reports.get, ids) if report is not None]


def _plan(reports: list[Report], as_json: bool, *, dry_run: bool) -> None:
    """What a redrive would do: how many, by recipient and kind (and, dry, which)."""
    elsewhere = [r for r in reports if r.state is not State.DEAD_LETTERED]
    if as_json:
        echo_json({"dry_run": dry_run, "reports": [dead_letter_view(r) for r in reports]})
        return
    click.echo(
        f"{len(reports) - len(elsewhere)} dead letters would be sent again"
        f" (routed with today's routes){'; dry run, nothing done' if dry_run else ''}",
        err=not dry_run,
    )
    for label, counts in (
        ("by recipient", Counter(r.recipient or "-" for r in reports if r not in elsewhere)),
        ("by kind", Counter(r.state_kind or "-" for r in reports if r not in elsewhere)),
    ):
        if counts:
            line = ", ".join(f"{key} {count}" for key, count in counts.most_common())
            click.echo(f"  {label}: {line}", err=not dry_run)
    if elsewhere:
        click.echo(f"  not dead-lettered (left alone): {len(elsewhere)}", err=not dry_run)
    if dry_run and reports:
        _print_dead_letters([dead_letter_view(r) for r in reports])


@dlq.command("resolve")
@click.argument("report_id")
@click.option("--reason", required=True, help="How it was delivered by other means.")
@operator_option
@json_option
@startup_errors
def resolve_command(report_id: str, reason: str, operator: str, as_json: bool) -> None:
    """Mark a dead letter RESOLVED_MANUALLY: it reached the case system another way.
    ID may be a unique prefix (8+ characters)."""
    container = _container()
    try:
        result = resolve_manually(
            container.uow,
            full_id(container.uow, report_id),
            container.now,
            operator=operator,
            reason=reason,
        )
    finally:
        container.close()
    _finish([result], as_json, "resolved")


def _each(ids: list[str], action: Any, quiet: bool) -> list[ActionResult]:
    if len(ids) > 1 and not quiet:
        return [action(report_id) for report_id in track(ids, description="working")]
    return [action(report_id) for report_id in ids]


def _finish(results: list[ActionResult], as_json: bool, verb: str) -> None:
    failed = [r for r in results if r.state is None]
    if as_json:
        echo_json([vars(r) for r in results])
    else:
        for result in results:
            click.echo(f"{result.report_id}: {result.state or 'unchanged'} {result.note}".rstrip())
        click.echo(f"{len(results) - len(failed)} {verb}, {len(failed)} unchanged")
    if failed:
        sys.exit(1)
