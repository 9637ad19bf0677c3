"""`relay reconcile`, `relay overdue`, `relay recipients health`: is every report proven stored?"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from ledger.alerts import overdue_reports
from ledger.clock import rfc3339
from ledger.lifecycle import IN_FLIGHT, State
from ledger.records import Report
from relay.bootstrap import Container, bootstrap
from relay.cli.options import echo_json, json_option, settings_and_logging, startup_errors
from relay.cli.views import print_table, whole_column
from relay.wiring import reconcile_recipients
from router.routes import ReceiptMode

BACKLOG = (State.RECEIVED, State.ROUTED, State.RETRY_SCHEDULED, *IN_FLIGHT)


def _container() -> Container:
    container = bootstrap(settings_and_logging(), content=False)
    container.check_routes()
    return container


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("reconcile")
@click.option("--recipient", default=None, help="Only this recipient.")
@click.option("--since", default=None, help="RFC 3339 time; default: the reconcile window.")
@json_option
@startup_errors
def reconcile_command(recipient: str | None, since: str | None, as_json: bool) -> None:
    """Compare each case system's list with the ledger; deliver again what is missing.
    Exit status 1 when anything was missing."""
    container = _container()
    try:
        results = reconcile_recipients(container, since=_since(since), recipient=recipient)
    finally:
        container.close()
    if as_json:
        echo_json([vars(result) for result in results])
    else:
        for result in results:
            if result.error:
                click.echo(f"{result.recipient}: not reconciled: {result.error}")
            else:
                click.echo(
                    f"{result.recipient}: {result.checked} checked, {len(result.missing)} missing"
                )
            for report_id in result.missing:
                click.echo(f"  missing, delivering again: {report_id}")
    if any(result.missing for result in results):
        sys.exit(1)


@click.command("overdue")
@json_option
@startup_errors
def overdue_command(as_json: bool) -> None:
    """Reports not VERIFIED within their limit (RELAY_OVERDUE_AFTER_SECONDS or the
    recipient's). Exit status 1 when there are any."""
    container = _container()
    try:
        reports = _overdue(container)
        views = [
            {
                "id": report.id,
                "state": report.state.value,
                "recipient": report.recipient,
                "kommunenummer": report.kommunenummer or report.submitted_kommunenummer,
                "received_at": rfc3339(report.received_at),
                "reason": report.state_reason,
            }
            for report in reports
        ]
    finally:
        container.close()
    if as_json:
        echo_json(views)
    else:
        table = Table(title=f"{len(views)} overdue reports", title_justify="left")
        whole_column(table, "id", (view["id"] for view in views))
        table.add_column("state", overflow="fold")
        whole_column(table, "recipient", (view["recipient"] for view in views))
        for column in ("kommune", "received", "reason"):
            table.add_column(column, overflow="fold")
        for view in views:
            table.add_row(*(str(value or "-") for value in view.values()))
        print_table(table)
    if views:
        sys.exit(1)


@click.group("recipients")
def recipients() -> None:
    """The recipients in the routes file and how their deliveries go."""


@recipients.command("health")
@json_option
@startup_errors
def health(as_json: bool) -> None:
    """Last success, breaker, backlog, dead letters and overdue count per recipient; and
    whether its deliveries can be verified at all."""
    container = _container()
    try:
        views = health_views(container)
    finally:
        container.close()
    if as_json:
        echo_json(views)
        return
    table = Table(title="recipients", title_justify="left")
    whole_column(table, "recipient", (view["recipient"] for view in views))
    for column in (
        "vendor",
        "verifiable",
        "last success",
        "breaker",
        "backlog",
        "dead",
        "overdue",
    ):
        table.add_column(column, overflow="fold")
    for view in views:
        table.add_row(
            view["recipient"],
            view["vendor"],
            "yes" if view["verifiable"] else "[red]no (legacy receipts)[/]",
            view["last_success_at"] or "never",
            f"open until {view['breaker_open_until']}" if view["breaker_open_until"] else "closed",
            str(view["backlog"]),
            str(view["dead_letters"]),
            str(view["overdue"]),
        )
    print_table(table)


def health_views(container: Container) -> list[dict[str, Any]]:
    overdue: dict[str | None, int] = {}
    for report in _overdue(container):
        overdue[report.recipient] = overdue.get(report.recipient, 0) + 1
    views = []
    with container.uow() as uow:
        for recipient in sorted(container.routes.recipients.values(), key=lambda r: r.id):
            state = uow.health.get(recipient.id)
            views.append(
                {
                    "recipient": recipient.id,
                    "vendor": recipient.vendor,
                    "verifiable": recipient.receipt is not ReceiptMode.LEGACY,
                    "last_success_at": _time(state.last_success_at),
                    "last_failure_at": _time(state.last_failure_at),
                    "last_error": state.last_error,
                    "breaker_open_until": _time(state.open_until),
                    "backlog": uow.queries.count_for_recipient(recipient.id, BACKLOG),
                    "dead_letters": uow.queries.count_for_recipient(
                        recipient.id, [State.DEAD_LETTERED]
                    ),
                    "overdue": overdue.get(recipient.id, 0),
                }
            )
    return views


def _overdue(container: Container) -> list[Report]:
    return overdue_reports(container.uow, container.overdue_limits(), container.now())


def _time(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment else None
