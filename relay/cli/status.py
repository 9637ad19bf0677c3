"""`relay status ID`: a report's state and its full history (metadata only)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ledger.clock import rfc3339
from relay.bootstrap import bootstrap
from relay.cli.ids import full_id
from relay.cli.options import settings_and_logging, startup_errors
from relay.cli.views import transition_view


@click.command()
@click.argument("report_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@startup_errors
def status(report_id: str, as_json: bool) -> None:
    """A report's state and its full history (metadata only). ID may be a unique prefix
    (8 characters or more)."""
    container = bootstrap(settings_and_logging(), content=False)
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
    view: dict[str, Any] = {
        "id": report.id,
        "state": report.state.value,
        "meldingstype": report.meldingstype,
        "client": report.client_id,
        "kommunenummer": report.kommunenummer or report.submitted_kommunenummer,
        "bydelsnummer": report.bydelsnummer,
        "recipient": report.recipient,
        "attempts": report.attempts,
        "saksreferanse": report.saksreferanse,
        "received_at": rfc3339(report.received_at),
        "history": [transition_view(t) for t in history],
    }
    if as_json:
        click.echo(json.dumps(view, indent=2, ensure_ascii=False))
        return
    for key in ("id", "state", "meldingstype", "client", "kommunenummer", "recipient", "attempts"):
        click.echo(f"{key:>14}: {view[key]}")
    click.echo("       history:")
    for entry in view["history"]:
        origin = entry["from"] or "-"
        line = (
            f"  {entry['sequence']:>3} {entry['at']} {origin} -> {entry['to']} by {entry['actor']}"
        )
        if entry["reason"]:
            line += f": {entry['reason']}"
        click.echo(line)
