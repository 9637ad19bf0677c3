"""`relay retention run`: erase the content of reports past their retention period."""

from __future__ import annotations

import sys

import click

from deliverers.stage import delivered_bytes
from ledger.clock import rfc3339
from ledger.retention import erase_due
from relay.bootstrap import bootstrap
from relay.cli.options import echo_json, json_option, settings_and_logging, startup_errors


@click.group()
def retention() -> None:
    """Content retention (RELAY_RETENTION_DAYS after VERIFIED or RESOLVED_MANUALLY)."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="List what would be erased; erase nothing.")
@json_option
@startup_errors
def run(dry_run: bool, as_json: bool) -> None:
    """Erase now what the scheduler's retention job would erase; metadata stays."""
    settings = settings_and_logging()
    container = bootstrap(settings)
    try:
        erasures = erase_due(
            container.uow,
            retention_days=settings.retention_days,
            now=container.now,
            delivered=delivered_bytes,
            dry_run=dry_run,
            limit=1_000_000,
        )
    finally:
        container.close()
    views = [
        {
            "id": e.report_id,
            "state": e.state,
            "final_since": rfc3339(e.final_since),
            "erased": e.erased,
            "delivered_sha256": e.sha256,
            "delivered_size": e.size,
            **({"note": e.note} if e.note else {}),
        }
        for e in erasures
    ]
    if as_json:
        echo_json(views)
        return
    for view in views:
        done = "erased" if view["erased"] else ("due" if dry_run else "kept")
        line = f"{view['id']}: {done} ({view['state']} since {view['final_since']})"
        click.echo(f"{line} {view.get('note', '')}".rstrip())
    erased = sum(1 for view in views if view["erased"])
    if dry_run:
        click.echo(
            f"{len(views)} reports past {settings.retention_days:g} days (dry run: nothing erased)"
        )
    else:
        click.echo(f"{erased} reports' content erased, {len(views) - erased} kept")
    if not dry_run and erased < len(views):
        sys.exit(1)
