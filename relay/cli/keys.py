"""`relay keys new|rotate`: the content key ring and the checkpoint signing key."""

from __future__ import annotations

import sys

import click

from ledger.checkpoint import new_signing_key_text
from ledger.content_crypto import ContentUnreadable, KeyRingError, new_key_line
from ledger.key_rotation import remaining, rotate
from relay.bootstrap import bootstrap
from relay.cli.options import echo_json, json_option, progress, settings_and_logging, startup_errors


@click.group()
def keys() -> None:
    """The keys that seal report content, and the key that signs checkpoints."""


@keys.command("new")
@click.option("--id", "key_id", default=None, help="The content key's id (default: k<date>).")
@click.option("--signing", is_flag=True, help="A checkpoint signing key (Ed25519) instead.")
def new(key_id: str | None, signing: bool) -> None:
    """Print a fresh key: put it in RELAY_CONTENT_KEYS (or RELAY_CHECKPOINT_SIGNING_KEY)."""
    if signing:
        click.echo(new_signing_key_text())
        return
    from datetime import UTC, datetime

    try:
        click.echo(new_key_line(key_id or "k" + datetime.now(UTC).strftime("%Y%m%d")))
    except KeyRingError as error:
        raise click.UsageError(str(error)) from None


@keys.command("rotate")
@json_option
@startup_errors
def rotate_command(as_json: bool) -> None:
    """Wrap every report's data key with the ring's first key; the pipeline may run on.

    Resumable: run it again after an interruption and it goes on where it stopped. Every
    process must already have the new key in its ring (see the README) before this runs."""
    container = bootstrap(settings_and_logging())
    keys = container.keys
    assert keys is not None
    try:
        total = remaining(container.uow, keys)
        with progress(quiet=as_json) as bar:
            task = bar.add_task(f"re-wrapping under {keys.primary.id}", total=total)
            done = rotate(container.uow, keys, advance=lambda n: bar.advance(task, n))
        left = remaining(container.uow, keys)
    except ContentUnreadable as error:
        click.echo(f"relay: {error}; add that key to the ring and run this again", err=True)
        sys.exit(1)
    finally:
        container.close()
    if as_json:
        echo_json({"key": keys.primary.id, "rewrapped": done, "remaining": left})
    else:
        click.echo(f"{done} data keys re-wrapped under {keys.primary.id}; {left} not under it")
    sys.exit(0 if left == 0 else 1)
