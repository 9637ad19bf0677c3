"""`relay routes check|reload|status`: the routes file, checked as running processes would,
and which table each running process has in force."""

from __future__ import annotations

import os
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.table import Table

from ledger.clock import rfc3339
from ledger.digest import sha256_hex
from ledger.heartbeats import Beat
from relay.bootstrap import StartupError, bootstrap, load_settings
from relay.cli.options import echo_json, json_option, settings_and_logging, startup_errors
from relay.cli.views import print_table, whole_column
from relay.routes_in_force import differing, tables_in_force
from relay.routes_loader import usable_routes
from relay.settings import Settings
from router.check import Finding, Kind, check
from router.live import CHECK_SECONDS
from router.registry import default_registry
from router.routes import RoutesFileError, read_routes_file


@click.group()
def routes() -> None:
    """The routes file: check it, have the running processes use a new one, and see which
    table each of them has in force."""


@routes.command("check")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The routes file to check (default: RELAY_ROUTES_FILE).",
)
@click.option(
    "--no-secrets",
    is_flag=True,
    help="Do not check that each named secret is present (in this environment, or its"
    " secret_file): for a file meant for other machines.",
)
@json_option
@startup_errors
def check_command(path: Path | None, no_secrets: bool, as_json: bool) -> None:
    """Every check a running process makes before it uses a routes file, then the gaps.

    First as `relay run` and `relay worker` load it (the same loader): the file must be
    valid, ids and served numbers unique, each vendor known, each endpoint usable by its
    vendor, and each named secret present in this environment or its file (--no-secrets
    skips only that). A file they would refuse is refused here, with every reason. Then
    lists every municipality (and every bydel, where one is routed by bydel) without a
    recipient, every served number that does not exist today (and what it is now). Exit
    status 1 if the file is refused or anything is found, 0 if it is clean.
    """
    settings = load_settings()
    path = path or _configured_routes_file(settings)
    try:
        content = read_routes_file(path)
        table = usable_routes(path, content, settings, read_secrets=not no_secrets)
    except RoutesFileError as error:
        _refused(error, as_json)
    findings = check(list(table.recipients.values()), default_registry())
    digest = sha256_hex(content)
    if as_json:
        echo_json(
            {
                "file": str(path),
                "ok": not findings,
                "sha256": digest,
                "secrets_checked": not no_secrets,
                "recipients": len(table.recipients),
                "findings": [{"kind": f.kind.value, "message": f.message} for f in findings],
            }
        )
    elif findings:
        click.echo(f"{path}: usable by the processes (sha256 {digest}); {len(findings)} problems")
        _echo_findings(findings)
    else:
        click.echo(
            f"{path}: clean (sha256 {digest}). {len(table.recipients)} recipients; every"
            " municipality (and every bydel where one is routed by bydel) has exactly one."
        )
    if no_secrets and not as_json:
        click.echo("secrets not checked (--no-secrets)")
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


@routes.command("status")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The routes file to compare with (default: RELAY_ROUTES_FILE).",
)
@json_option
@startup_errors
def status_command(path: Path | None, as_json: bool) -> None:
    """Running processes whose routes table is not the routes file's.

    Every worker, scheduler and `relay run` records in its heartbeats the SHA-256 of the
    routes file its table was built from, and since when (a worker's pool processes too,
    on the rows of the queues they took heartbeats from). Lists each process heard from
    recently whose table differs from the file: one that refused the file (its log says
    why) or has not looked at it yet. Exit status 1 if any does.
    """
    container = bootstrap(settings_and_logging(), content=False)
    try:
        path = path or _configured_routes_file(container.settings)
        try:
            digest = sha256_hex(read_routes_file(path))
        except RoutesFileError as error:
            _refused(error, as_json)
        beats = tables_in_force(
            container.uow, container.now(), container.settings.heartbeat_seconds
        )
        now = container.now()
    finally:
        container.close()
    others = differing(beats, digest)
    views = [_process_view(beat, now) for beat in others]
    if as_json:
        echo_json(
            {
                "file": str(path),
                "sha256": digest,
                "processes": len(beats),
                "same": len(beats) - len(others),
                "differing": views,
            }
        )
    else:
        click.echo(f"{path}: sha256 {digest}")
        click.echo(f"{len(beats) - len(others)} of {len(beats)} running processes use it")
        if views:
            _print_processes(views)
    sys.exit(1 if others else 0)


def _process_view(beat: Beat, now: datetime) -> dict[str, Any]:
    return {
        "process": beat.process_id,
        "queue": beat.queue or None,
        "role": beat.role,
        "host": beat.hostname,
        "pid": beat.pid,
        "routes_sha256": beat.routes_sha256,
        "routes_loaded_at": rfc3339(beat.routes_loaded_at) if beat.routes_loaded_at else None,
        "beat_age_seconds": round((now - beat.beat_at).total_seconds(), 1),
    }


def _print_processes(views: list[dict[str, Any]]) -> None:
    table = Table(title="processes with another table", title_justify="left")
    whole_column(table, "process", (view["process"] for view in views))
    for column in ("queue", "pid", "their table (sha256)", "in force since", "beat s ago"):
        table.add_column(column, overflow="fold")
    for view in views:
        table.add_row(
            view["process"],
            view["queue"] or "-",
            str(view["pid"]),
            view["routes_sha256"],
            view["routes_loaded_at"] or "-",
            f"{view['beat_age_seconds']:g}",
        )
    print_table(table)


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
