"""`relay report show|accesses`: the one way a person reads a report's content, audited."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from ledger.access import read_content
from ledger.clock import rfc3339
from ledger.content_crypto import ContentUnreadable
from relay.bootstrap import bootstrap
from relay.cli.ids import full_id
from relay.cli.options import (
    echo_json,
    json_option,
    operator_option,
    settings_and_logging,
    startup_errors,
)
from relay.cli.views import print_table, whole_column


@click.group()
def report() -> None:
    """Read a report's content (recorded in the ledger), and list who has read it."""


@report.command("show")
@click.argument("report_id")
@click.option("--reason", required=True, help="Why you read it; recorded in the ledger.")
@operator_option
@startup_errors
def show(report_id: str, reason: str, operator: str) -> None:
    """Print a report's content as the portal sent it. Who, when and why is recorded in the
    ledger first; `relay report accesses` lists it. ID may be a unique prefix (8+
    characters)."""
    if not reason.strip() or not operator.strip():
        raise click.UsageError("--reason and --operator must not be empty")
    container = bootstrap(settings_and_logging())
    try:
        report_id = full_id(container.uow, report_id)
        disclosure = read_content(
            container.uow, report_id, operator=operator, reason=reason, now=container.now
        )
    except ContentUnreadable as error:
        click.echo(f"relay: {error}", err=True)
        sys.exit(1)
    finally:
        container.close()
    if disclosure is None:
        click.echo(f"relay: no report {report_id}", err=True)
        sys.exit(1)
    if disclosure.document is None:
        erased = disclosure.report.content_erased_at
        when = rfc3339(erased) if erased else "before it could be read"
        click.echo(f"relay: the content of report {report_id} was erased ({when})", err=True)
        sys.exit(1)
    document = json.loads(disclosure.document)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@report.command("accesses")
@click.argument("report_id", required=False)
@json_option
@startup_errors
def accesses(report_id: str | None, as_json: bool) -> None:
    """Who read reports' content (or this report's: a unique prefix of 8+ characters will
    do), when and why, oldest first."""
    container = bootstrap(settings_and_logging(), content=False)
    try:
        if report_id is not None:
            report_id = full_id(container.uow, report_id)
        with container.uow() as uow:
            found = uow.contents.accesses(report_id)
    finally:
        container.close()
    views = [
        {"report_id": a.report_id, "at": rfc3339(a.at), "operator": a.operator, "reason": a.reason}
        for a in found
    ]
    if as_json:
        echo_json(views)
        return
    table = Table(title=f"{len(views)} reads of report content", title_justify="left")
    table.add_column("at", overflow="fold")
    whole_column(table, "report", (view["report_id"] for view in views))
    for column in ("operator", "reason"):
        table.add_column(column, overflow="fold")
    for view in views:
        table.add_row(view["at"], view["report_id"], view["operator"], view["reason"])
    print_table(table)
