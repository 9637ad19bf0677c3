"""`relay dlq …`: the dead letters, for the operator who must drain them. Metadata only."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import track
from rich.table import Table

from deliverers.dead_letters import ActionResult, redrive, resolve_manually
from ledger.lifecycle import State
from ledger.records import DeadLetterKind
from relay.bootstrap import Container, bootstrap
from relay.cli.options import (
    echo_json,
    json_option,
    operator_option,
    settings_and_logging,
    startup_errors,
)
from relay.cli.views import attempt_view, dead_letter_view

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
    table = Table(title=f"{len(views)} dead-lettered reports")
    for column in ("id", "recipient", "kommune", "kind", "attempts", "since", "reason"):
        table.add_column(column)
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
    Console().print(table)


@dlq.command("show")
@click.argument("report_id")
@json_option
@startup_errors
def show(report_id: str, as_json: bool) -> None:
    """One report's attempts and their outcomes."""
    container = _container()
    with container.uow() as uow:
        report = uow.reports.get(report_id)
        history = uow.reports.history(report_id) if report else []
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
    table = Table(title="history")
    for column in ("#", "at", "transition", "by", "attempt", "outcome", "ms", "reason"):
        table.add_column(column)
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
    Console().print(table)


@dlq.command("redrive")
@click.argument("report_ids", nargs=-1)
@click.option("--recipient", default=None, help="Every dead letter of this recipient.")
@click.option("--all", "everything", is_flag=True, help="Every dead letter.")
@click.option("--reason", required=True, help="Why it is sent again; recorded in the ledger.")
@operator_option
@json_option
@startup_errors
def redrive_command(
    report_ids: tuple[str, ...],
    recipient: str | None,
    everything: bool,
    reason: str,
    operator: str,
    as_json: bool,
) -> None:
    """Send dead-lettered reports again, routed with today's routes."""
    chosen = sum(bool(x) for x in (report_ids, recipient, everything))
    if chosen != 1:
        raise click.UsageError("give report ids, or --recipient R, or --all (one of them)")
    container = _container()
    container.check_routes()
    ids = list(report_ids)
    if not ids:
        with container.uow() as uow:
            ids = [
                r.id
                for r in uow.queries.reports_in(
                    [State.DEAD_LETTERED], recipient=recipient, limit=1_000_000
                )
            ]
    table = container.routes

    def send_again(report_id: str) -> ActionResult:
        return redrive(
            container.uow, table, report_id, container.now, operator=operator, reason=reason
        )

    results = _each(ids, send_again, as_json)
    container.close()
    _finish(results, as_json, "redriven")


@dlq.command("resolve")
@click.argument("report_id")
@click.option("--reason", required=True, help="How it was delivered by other means.")
@operator_option
@json_option
@startup_errors
def resolve_command(report_id: str, reason: str, operator: str, as_json: bool) -> None:
    """Mark a dead letter RESOLVED_MANUALLY: it reached the case system another way."""
    container = _container()
    result = resolve_manually(
        container.uow, report_id, container.now, operator=operator, reason=reason
    )
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
