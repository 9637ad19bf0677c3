"""Which routes table each running process has in force, from its heartbeats in the ledger,
against the routes file: the processes an operator must wait for (or look after) before a
changed file is used everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ledger.heartbeats import Beat
from ledger.uow import UnitOfWork


def alive_within(heartbeat_seconds: float) -> float:
    """A process whose last beat is older than this is taken as not running (the same
    limit as `relay health --check`)."""
    return 3 * heartbeat_seconds + 10


def tables_in_force(
    uow_factory: Callable[[], UnitOfWork], now: datetime, heartbeat_seconds: float
) -> list[Beat]:
    """Every running process's (and pool process's) heartbeat row that names its table."""
    cutoff = now - timedelta(seconds=alive_within(heartbeat_seconds))
    with uow_factory() as uow:
        beats = uow.heartbeats.all()
    return [beat for beat in beats if beat.routes_sha256 and beat.beat_at >= cutoff]


def differing(beats: list[Beat], sha256: str) -> list[Beat]:
    return [beat for beat in beats if beat.routes_sha256 != sha256]
