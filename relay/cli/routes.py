"""`relay routes check|reload`: the routes file, checked as running processes would."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn

import click

from ledger.digest import sha256_hex
from relay.bootstrap import StartupError, load_settings
from relay.cli.options import echo_json, json_option, startup_errors
from relay.routes_loader import usable_routes
from relay.settings import Settings
from router.check import Finding, Kind, check
from router.live import CHECK_SECONDS
from router.registry import default_registry
from router.routes import RoutesFileError, parse_routes, read_routes_file


@click.group()
def routes() -> None:
    """The routes file: check it, and have the running processes use a new one."""


@routes.command("check")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The routes file to check (default: RELAY_ROUTES_FILE).",
)
@json_option
@startup_errors
def check_command(path: Path | None, as_json: bool) -> None:
    """Find gaps, numbers that do not exist today, and numbers served twice.

    Lists every municipality (and every bydel, where one is routed by bydel) without a
    recipient, every served number that does not exist today (and what it is now), and
    every number served twice. Exit status 1 if anything is wrong, 0 if the file is
    clean. Secrets are not read.
    """
    path = path or _configured_routes_file(load_settings())
    try:
        document = parse_routes(path, read_routes_file(path))
    except RoutesFileError as error:
        _refused(error, as_json)
    findings = check(document.recipients, default_registry())
    if as_json:
        echo_json(
            {
                "file": str(path),
                "ok": not findings,
                "recipients": len(document.recipients),
                "findings": [{"kind": f.kind.value, "message": f.message} for f in findings],
            }
        )
    elif findings:
        click.echo(f"{path}: {len(findings)} problems")
        _echo_findings(findings)
    else:
        click.echo(
            f"{path}: clean. {len(document.recipients)} recipients; every municipality"
            " (and every bydel where one is routed by bydel) has exactly one."
        )
    sys.exit(1 if findings else 0)


@routes.command("reload")
@json_option
@startup_errors
def reload_command(as_json: bool) -> None:
    """Check the routes file as running processes will, then make them use it.

    RELAY_ROUTES_FILE is checked with this shell's environment (secrets) and then
    touched. Every `relay run` and `relay worker` process looks at the file at most once
    a second when it routes or delivers; a changed file (the touch guarantees they see
    one) is used from then on. Exit status 1, and nothing touched, if they would refuse it.
    """
    settings = load_settings()
    path = _configured_routes_file(settings)
    try:
        content = read_routes_file(path)
        table = usable_routes(path, content, settings)
    except RoutesFileError as error:
        _refused(error, as_json)
    findings = check(list(table.recipients.values()), default_registry())
    try:
        os.utime(path)
        touched = None
    except OSError as error:
        touched = error.strerror
    if as_json:
        echo_json(
            {
                "file": str(path),
                "ok": True,
                "sha256": sha256_hex(content),
                "recipients": len(table.recipients),
                "touched": touched is None,
                "findings": [{"kind": f.kind.value, "message": f.message} for f in findings],
            }
        )
        return
    count = len(table.recipients)
    click.echo(
        f"{path}: valid, {count} recipient{'' if count == 1 else 's'}"
        f" (sha256 {sha256_hex(content)})"
    )
    if touched is None:
        click.echo(
            f"touched: running processes use it from their next routing or delivery"
            f" (they look at most every {CHECK_SECONDS:g} s) and log 'routes reloaded'"
        )
    else:
        click.echo(
            f"could not touch it ({touched}): processes still notice a changed file"
            " unless its modification time and size were kept"
        )
    if findings:
        click.echo(f"relay routes check finds {len(findings)} problems (their reports are HELD):")
        _echo_findings([f for f in findings if f.kind is not Kind.UNSERVED])
        if gaps := sum(1 for f in findings if f.kind is Kind.UNSERVED):
            click.echo(f"{Kind.UNSERVED.value}: {gaps} (listed by relay routes check)")


def _echo_findings(findings: list[Finding]) -> None:
    for kind, count in Counter(f.kind for f in findings).items():
        click.echo(f"{kind.value}: {count}")
        for finding in findings:
            if finding.kind is kind:
                click.echo(f"  {finding.message}")


def _refused(error: RoutesFileError, as_json: bool) -> NoReturn:
    if as_json:
        echo_json({"ok": False, "error": str(error)})
    else:
        click.echo(f"relay: {error}", err=True)
    sys.exit(1)


def _configured_routes_file(settings: Settings) -> Path:
    path = settings.routes_file
    if path is None:
        raise StartupError("RELAY_ROUTES_FILE is not set (or give --file where offered)")
    return path
