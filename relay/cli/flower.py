"""`relay flower`: Flower, Celery's web monitor, on this relay's broker with its settings (the
Redis key prefix, the queues), so it sees the task events workers send (RELAY_TASK_EVENTS).
Flower is not a dependency of the relay: install it beside it (`pip install flower`)."""

from __future__ import annotations

import importlib.util
import logging

import click

from relay.bootstrap import StartupError
from relay.cli.options import settings_and_logging, startup_errors

log = logging.getLogger(__name__)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("flower_options", nargs=-1, type=click.UNPROCESSED)
@startup_errors
def flower(flower_options: tuple[str, ...]) -> None:
    """Flower on the relay's broker (pip install flower). Options go to Flower as they are,
    e.g. `relay flower --port=5555 --address=127.0.0.1`."""
    if importlib.util.find_spec("flower") is None:
        raise StartupError(
            "Flower is not installed; install it beside the relay: pip install flower"
        )
    from relay.celery_app import create_celery

    settings = settings_and_logging()
    if not settings.task_events:
        log.warning("RELAY_TASK_EVENTS is off: the workers send no task events for Flower")
    create_celery(settings).start(["flower", *flower_options])
