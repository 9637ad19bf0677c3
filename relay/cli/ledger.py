"""`relay ledger verify|checkpoint`: prove the ledger's history was not rewritten."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ledger.checkpoint import CheckpointError, checkpoint_from_json, signature_holds
from ledger.checkpoints import compare, write_checkpoint
from ledger.verification import verify_chains
from relay.bootstrap import StartupError, bootstrap
from relay.checkpoint_log import CheckpointLog, read_checkpoints
from relay.cli.options import echo_json, json_option, progress, settings_and_logging, startup_errors
from relay.content_keys import checkpoint_signing_key


@click.group()
def ledger() -> None:
    """Check every report's hash chain, and the ledger against signed checkpoints."""


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("give an ISO 8601 time, e.g. 2026-11-26T12:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@ledger.command("verify")
@click.option("--since", default=None, help="Only reports changed since this time (ISO 8601).")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also check the ledger against the signed checkpoints in this file.",
)
@json_option
@startup_errors
def verify(since: str | None, checkpoint_file: Path | None, as_json: bool) -> None:
    """Walk every report's transitions; exit 1 naming each report and sequence where its
    chain breaks, or a checkpoint the ledger no longer matches."""
    moment = _moment(since)
    container = bootstrap(settings_and_logging(), content=False)
    try:
        with container.uow() as uow:
            total = uow.chains.count_reports(moment)
        with progress(quiet=as_json) as bar:
            task = bar.add_task("checking chains", total=total)
            breaks = verify_chains(container.uow, moment, advance=lambda n: bar.advance(task, n))
        checkpoints = _checkpoints(container, checkpoint_file) if checkpoint_file else []
    finally:
        container.close()
    failed = bool(breaks) or any(not c["holds"] for c in checkpoints)
    if as_json:
        echo_json(
            {
                "reports": total,
                "breaks": [vars(b) for b in breaks],
                "checkpoints": checkpoints,
                "ok": not failed,
            }
        )
    else:
        for found in breaks:
            click.echo(
                f"BROKEN report {found.report_id} at sequence {found.sequence}: {found.reason}"
            )
        for checked in checkpoints:
            click.echo(checked["message"])
        click.echo(f"{total} reports checked, {len(breaks)} broken chains")
    sys.exit(1 if failed else 0)


def _checkpoints(container: Any, path: Path) -> list[dict[str, Any]]:
    try:
        raw = read_checkpoints(path)
    except (OSError, ValueError) as error:
        raise StartupError(f"{path}: not a checkpoint file ({error})") from None
    ours = _our_public_key(container)
    results = []
    for position, value in enumerate(raw, start=1):
        try:
            checkpoint = checkpoint_from_json(value)
        except CheckpointError as error:
            raise StartupError(f"{path}: checkpoint {position}: {error}") from None
        name = f"checkpoint {checkpoint.number or position} (as of {value['cutoff']})"
        if not signature_holds(checkpoint):
            results.append(
                {
                    "checkpoint": checkpoint.number,
                    "holds": False,
                    "message": f"FAILED {name}: its signature does not hold",
                }
            )
            continue
        if ours is not None and checkpoint.public_key != ours:
            results.append(
                {
                    "checkpoint": checkpoint.number,
                    "holds": False,
                    "message": f"FAILED {name}: signed by another key than ours",
                }
            )
            continue
        found = compare(container.uow, checkpoint)
        if found.holds:
            message = f"ok {name}: {found.reports} chains, root {found.root}"
        else:
            message = (
                f"FAILED {name}: the ledger no longer matches it (history rewritten): "
                f"{checkpoint.reports} chains with root {checkpoint.root} then, "
                f"{found.reports} with root {found.root} now"
            )
        results.append({"checkpoint": checkpoint.number, "holds": found.holds, "message": message})
    return results


def _our_public_key(container: Any) -> str | None:
    from ledger.checkpoint import public_key_text

    try:
        key = checkpoint_signing_key(container.settings)
    except CheckpointError:
        return None
    return public_key_text(key.public_key()) if key else None


@ledger.command("checkpoint")
@click.option(
    "--settle",
    type=click.FloatRange(0),
    default=None,
    help="Cover transitions older than this (seconds; default RELAY_CHECKPOINT_SETTLE_SECONDS).",
)
@json_option
@startup_errors
def checkpoint_command(settle: float | None, as_json: bool) -> None:
    """Sign a checkpoint now, as the scheduler does each RELAY_CHECKPOINT_INTERVAL_SECONDS."""
    from relay.privacy import checkpoint_log_path

    settings = settings_and_logging()
    container = bootstrap(settings, content=False)
    try:
        try:
            key = checkpoint_signing_key(settings)
        except CheckpointError as error:
            raise StartupError(str(error)) from None
        if key is None:
            raise StartupError(
                "RELAY_CHECKPOINT_SIGNING_KEY is not set (`relay keys new --signing`)"
            )
        path = checkpoint_log_path(container)
        made = write_checkpoint(
            container.uow,
            key,
            container.now,
            CheckpointLog(
                path,
                container.http,
                settings.alert_webhook_url,
                webhook_format=settings.alert_webhook_format,
            ),
            settle_seconds=settings.checkpoint_settle_seconds if settle is None else settle,
        )
    finally:
        container.close()
    if as_json:
        echo_json(made.as_json())
    else:
        click.echo(
            f"checkpoint {made.number}: {made.reports} chains, root {made.root}; appended to {path}"
        )
