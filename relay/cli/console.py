"""`relay console add-user|users|remove-user`: the operators' console's accounts.

The console (under `/console` on `relay api` and `relay run`) has accounts of its own:
viewers see every page, operators also act. A password is read from a prompt (or from the
environment variable `--password-env` names, for scripts) and stored as a scrypt hash.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from rich.table import Table

from ledger.clock import rfc3339
from relay.bootstrap import bootstrap
from relay.cli.options import echo_json, json_option, settings_and_logging, startup_errors
from relay.cli.views import print_table, whole_column
from relay.console.accounts import AccountError, Role, add_user, remove_user, users
from relay.console.passwords import MIN_LENGTH


@click.group()
def console() -> None:
    """The operators' web console (/console on the API): its accounts."""


@console.command("add-user")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    required=True,
    help="viewer: sees every page; operator: also redrives, resolves and reroutes.",
)
@click.option(
    "--password-env",
    default=None,
    metavar="VAR",
    help="Read the password from this environment variable (default: ask for it).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Give an existing user this role and password (their sessions end).",
)
@startup_errors
def add_user_command(name: str, role: str, password_env: str | None, replace: bool) -> None:
    """Add a console user NAME (lowercase letters, digits, '.', '_', '-'), who acts in the
    ledger as operator:NAME. The password needs at least 12 characters."""
    if password_env is not None:
        password = os.environ.get(password_env, "")
        if not password:
            raise click.UsageError(f"--password-env {password_env}: that variable is not set")
    else:
        password = click.prompt(
            f"Password for {name} ({MIN_LENGTH}+ characters)",
            hide_input=True,
            confirmation_prompt=True,
            err=True,
        )
    container = bootstrap(settings_and_logging(), content=False)
    try:
        new = add_user(container.uow, name, Role(role), password, container.now(), replace=replace)
    except AccountError as error:
        click.echo(f"relay: {error}", err=True)
        sys.exit(1)
    finally:
        container.close()
    verb = "added" if new else "replaced (their sessions ended)"
    click.echo(f"console user {name} ({role}) {verb}; acts in the ledger as operator:{name}")


@console.command("users")
@json_option
@startup_errors
def users_command(as_json: bool) -> None:
    """Every console user: role, when added, last login, sessions, and any lockout."""
    container = bootstrap(settings_and_logging(), content=False)
    try:
        found = users(container.uow, container.now())
    finally:
        container.close()
    views: list[dict[str, Any]] = [
        {
            "name": user.name,
            "role": user.role,
            "created_at": rfc3339(user.created_at),
            "password_set_at": rfc3339(user.password_set_at),
            "last_login_at": rfc3339(user.last_login_at) if user.last_login_at else None,
            "sessions": sessions,
            "failed_logins": user.failed_logins,
            "locked_until": rfc3339(user.locked_until) if user.locked_until else None,
        }
        for user, sessions in found
    ]
    if as_json:
        echo_json(views)
        return
    table = Table(title=f"{len(views)} console users", title_justify="left")
    whole_column(table, "name", (view["name"] for view in views))
    for column in ("role", "added", "last login", "sessions", "locked until"):
        table.add_column(column, overflow="fold")
    for view in views:
        table.add_row(
            view["name"],
            view["role"],
            view["created_at"],
            view["last_login_at"] or "-",
            str(view["sessions"]),
            view["locked_until"] or "-",
        )
    print_table(table)


@console.command("remove-user")
@click.argument("name")
@startup_errors
def remove_user_command(name: str) -> None:
    """Remove a console user; their sessions end at once."""
    container = bootstrap(settings_and_logging(), content=False)
    try:
        removed = remove_user(container.uow, name)
    finally:
        container.close()
    if not removed:
        click.echo(f"relay: no console user {name}", err=True)
        sys.exit(1)
    click.echo(f"console user {name} removed; their sessions ended")
