"""A clock for tests that moves only when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
MONOTONIC_T0 = 1000.0


class Clock:
    """Wall time as `clock()` (an aware datetime, for `now=` arguments) and, moving with it,
    `clock.monotonic()` in seconds (for `clock=` arguments that take `time.monotonic`)."""

    def __init__(self, start: datetime = T0) -> None:
        self.start = start
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return MONOTONIC_T0 + (self.now - self.start).total_seconds()
