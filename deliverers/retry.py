"""The retry policy: after a failed attempt, when to try again, or to stop. A pure decision.

Exponential backoff with full jitter and a cap, limited by attempts and by the report's
age; a delay the case system asked for (`Retry-After`) is honoured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryAt:
    at: datetime
    delay_seconds: float


@dataclass(frozen=True)
class DeadLetter:
    reason: str


RetryDecision = RetryAt | DeadLetter


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    cap_seconds: float = 3600.0
    max_attempts: int = 20
    max_age_seconds: float = 48 * 3600.0

    def backoff_ceiling(self, attempt: int) -> float:
        """The largest delay after the `attempt`-th failure (1-based), before jitter."""
        exponent = min(attempt - 1, 64)
        return float(min(self.cap_seconds, self.base_seconds * (2**exponent)))

    def decide(
        self,
        attempt: int,
        *,
        first_attempt_due: datetime,
        now: datetime,
        error: str,
        retry_after: float | None = None,
        jitter: Callable[[], float],
    ) -> RetryDecision:
        """After the `attempt`-th failed attempt: try again at a time, or give up.

        `jitter` returns a number in [0, 1); full jitter picks the delay uniformly below
        the ceiling. `first_attempt_due` is when the report became deliverable.
        """
        if attempt >= self.max_attempts:
            return DeadLetter(f"gave up after {attempt} attempts; last: {error}")
        delay = jitter() * self.backoff_ceiling(attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        at = now + timedelta(seconds=delay)
        if at - first_attempt_due > timedelta(seconds=self.max_age_seconds):
            hours = self.max_age_seconds / 3600
            return DeadLetter(f"gave up after {hours:g} h and {attempt} attempts; last: {error}")
        return RetryAt(at=at, delay_seconds=delay)
