"""`relay db upgrade`: the ledger's schema."""

from __future__ import annotations

import click

from relay.bootstrap import bootstrap
from relay.cli.options import settings_and_logging, startup_errors


@click.group()
def db() -> None:
    """The ledger's schema."""


@db.command()
@startup_errors
def upgrade() -> None:
    """Bring the ledger's schema up to date (Alembic)."""
    from ledger.migrate import current_revision

    container = bootstrap(settings_and_logging(), migrate=True, content=False)
    click.echo(f"ledger schema at revision {current_revision(container.engine)}")
    container.close()
