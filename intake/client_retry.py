"""When `IntakeClient` tries again: a pure policy, exponential backoff with full jitter.

Only answers that say "not now" are retried (503, 429, a broken connection). Every attempt
carries the same Idempotency-Key and the same bytes, so a retry after an ambiguous outcome
(the server stored the report but the answer was lost) gets the first receipt back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    max_retry_after_seconds: float = 300.0

    def delay(
        self, attempt: int, retry_after: float | None, random: Callable[[], float]
    ) -> float | None:
        """Seconds to wait after failed attempt number `attempt` (1-based), None to give up.

        A server's Retry-After is honoured (up to `max_retry_after_seconds`); otherwise a
        random wait up to base * 2^(attempt-1), capped.
        """
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_seconds)
        return random() * min(self.cap_seconds, self.base_seconds * 2.0 ** (attempt - 1))
