"""`relay health`: every worker's and scheduler's last sign of life, from the ledger; with
`--check ROLE`, a liveness probe for a supervisor (exit 0 alive, 1 not)."""

from __future__ import annotations

import socket
import sys
from datetime import datetime
from typing import Any

import click
from rich.table import Table

from ledger.clock import rfc3339
from ledger.heartbeats import PROCESS, Beat
from relay.bootstrap import bootstrap
from relay.cli.options import echo_json, json_option, settings_and_logging, startup_errors
from relay.cli.views import print_table, whole_column


@click.command("health")
@click.option(
    "--check",
    "role",
    type=click.Choice(["worker", "scheduler", "embedded"]),
    default=None,
    help="Liveness probe: exit 0 if a process of this role on this host beat recently.",
)
@click.option("--host", default=None, help="With --check: this host (default: this machine's).")
@json_option
@startup_errors
def health(role: str | None, host: str | None, as_json: bool) -> None:
    """Workers and schedulers: when each last showed life, and each worker's heartbeats by
    queue. A worker's watchdog exits it when it stops taking messages; this shows the rest."""
    container = bootstrap(settings_and_logging(), content=False)
    try:
        with container.uow() as uow:
            beats = uow.heartbeats.all()
        now = container.now()
        settings = container.settings
    finally:
        container.close()
    if role is not None:
        limit = 3 * settings.heartbeat_seconds + 10
        here = host or socket.gethostname()
        alive = [
            beat
            for beat in beats
            if beat.role == role
            and beat.queue == PROCESS
            and beat.hostname == here
            and _age(beat, now) <= limit
        ]
        click.echo(
            f"{role} on {here}: "
            + (f"alive ({len(alive)} beating)" if alive else f"no beat within {limit:g} s")
        )
        sys.exit(0 if alive else 1)
    views: list[dict[str, Any]] = [
        {
            "process": beat.process_id,
            "queue": beat.queue or None,
            "role": beat.role,
            "host": beat.hostname,
            "pid": beat.pid,
            "beat_at": rfc3339(beat.beat_at),
            "age_seconds": round(_age(beat, now), 1),
            "last_message_at": rfc3339(beat.consumed_at) if beat.consumed_at else None,
            "routes_sha256": beat.routes_sha256,
            "routes_loaded_at": rfc3339(beat.routes_loaded_at) if beat.routes_loaded_at else None,
        }
        for beat in beats
    ]
    if as_json:
        echo_json(views)
        return
    table = Table(title="processes (rows with a queue: heartbeats that worker took from it)")
    whole_column(table, "process", (view["process"] for view in views))
    for column in ("queue", "role", "host", "pid", "age s", "last message", "routes"):
        table.add_column(column, overflow="fold")
    for view in views:
        table.add_row(
            view["process"],
            view["queue"] or "-",
            view["role"],
            view["host"],
            str(view["pid"]),
            f"{view['age_seconds']:g}",
            view["last_message_at"] or "-",
            (view["routes_sha256"] or "-")[:12],
        )
    print_table(table)


def _age(beat: Beat, now: datetime) -> float:
    return (now - beat.beat_at).total_seconds()
