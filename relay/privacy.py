"""The periodic work that keeps report content private and the ledger honest, built from a
container: retention, the chain watch and signed checkpoints (registered in
`relay.wiring`'s job table)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

from deliverers.stage import delivered_bytes
from ledger.checkpoint import CheckpointError
from ledger.checkpoints import write_checkpoint
from ledger.retention import erase_due
from ledger.verification import ChainWatch
from relay.bootstrap import Container, StartupError
from relay.checkpoint_log import CheckpointLog
from relay.content_keys import checkpoint_signing_key

log = logging.getLogger(__name__)


def checkpoint_log_path(container: Container) -> Path:
    settings = container.settings
    return settings.checkpoint_log or settings.data_dir / "checkpoints.jsonl"


def retention_job(container: Container) -> Callable[[], int]:
    def run() -> int:
        erasures = erase_due(
            container.uow,
            retention_days=container.settings.retention_days,
            now=container.now,
            delivered=delivered_bytes,
        )
        return sum(1 for erasure in erasures if erasure.erased)

    return run


def chain_watch_job(container: Container) -> Callable[[], int]:
    return ChainWatch(container.uow, container.now)


def checkpoint_job(container: Container) -> Callable[[], int] | None:
    """Signs a checkpoint each time it runs; None (and a warning) without a signing key.
    A signing key that cannot be read stops the start."""
    settings = container.settings
    try:
        key = checkpoint_signing_key(settings)
    except CheckpointError as error:
        raise StartupError(str(error)) from None
    if key is None:
        log.warning(
            "RELAY_CHECKPOINT_SIGNING_KEY is not set: no signed checkpoints of the ledger "
            "(make a key with `relay keys new --signing`)"
        )
        return None
    publish = CheckpointLog(
        checkpoint_log_path(container),
        container.http,
        settings.alert_webhook_url,
        webhook_format=settings.alert_webhook_format,
    )
    write = functools.partial(
        write_checkpoint,
        container.uow,
        key,
        container.now,
        publish,
        settle_seconds=settings.checkpoint_settle_seconds,
    )
    return lambda: write().reports
