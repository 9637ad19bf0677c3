"""The `relay` command line: run the pipeline's processes, and look after reports.

One module per command group; what they share (start-up errors, logging, `--operator`,
`--json`) is in `relay.cli.options`.
"""

from __future__ import annotations

import click

from relay.cli.check_recipient import check_recipient
from relay.cli.console import console
from relay.cli.db import db
from relay.cli.demo import bench, demo
from relay.cli.dlq import dlq
from relay.cli.flower import flower
from relay.cli.health import health
from relay.cli.held import held
from relay.cli.keys import keys
from relay.cli.ledger import ledger
from relay.cli.processes import api, run, scheduler, worker
from relay.cli.proof import overdue_command, recipients, reconcile_command
from relay.cli.report import report
from relay.cli.retention import retention
from relay.cli.routes import routes
from relay.cli.sandbox import sandbox
from relay.cli.status import status


@click.group()
def main() -> None:
    """bekymring-relay: carries concern reports to case systems and proves they arrived."""


for command in (
    run,
    api,
    worker,
    scheduler,
    status,
    health,
    db,
    demo,
    bench,
    sandbox,
    check_recipient,
    dlq,
    reconcile_command,
    overdue_command,
    recipients,
    routes,
    held,
    keys,
    report,
    retention,
    ledger,
    flower,
    console,
):
    main.add_command(command)
