"""What the `relay` subcommands share: start-up errors, logging, the operator's name, JSON,
progress bars."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deliverers.registry import RecipientConfigError
from relay.bootstrap import StartupError, load_settings
from relay.logs import configure_logging
from relay.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def startup_errors(command: F) -> F:
    """Turn configuration mistakes into one clear message and exit status 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (StartupError, RecipientConfigError) as error:
            click.echo(f"relay: {error}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def settings_and_logging() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def default_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def operator_option(command: F) -> F:
    """`--operator NAME` (default: the OS user); recorded in the ledger as `operator:NAME`."""
    return click.option(
        "--operator",
        default=default_operator,
        show_default="the OS user",
        help="Who is acting; recorded in the ledger.",
    )(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(command)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def progress(*, quiet: bool) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(
        *columns, TimeElapsedColumn(), console=Console(stderr=True), disable=quiet, transient=True
    )
