from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deliverers.retry import DeadLetter, RetryAt, RetryPolicy

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_seconds=5, cap_seconds=3600, max_attempts=20, max_age_seconds=48 * 3600)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (10, 2560), (11, 3600), (19, 3600), (200, 3600)],
)
def test_backoff_doubles_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert POLICY.backoff_ceiling(attempt) == ceiling


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected_delay"),
    [(1, 0.0, 0.0), (1, 0.5, 2.5), (1, 0.999, 4.995), (3, 0.5, 10.0), (15, 0.25, 900.0)],
)
def test_full_jitter_picks_a_delay_below_the_ceiling(
    attempt: int, jitter: float, expected_delay: float
) -> None:
    decision = POLICY.decide(
        attempt, first_attempt_due=T0, now=T0, error="HTTP 503", jitter=lambda: jitter
    )
    assert decision == RetryAt(
        at=T0 + timedelta(seconds=expected_delay), delay_seconds=expected_delay
    )


@pytest.mark.parametrize(
    ("jitter", "retry_after", "expected"), [(0.1, 30.0, 30.0), (0.9, 1.0, 4.5)]
)
def test_retry_after_is_a_floor(jitter: float, retry_after: float, expected: float) -> None:
    decision = POLICY.decide(
        1,
        first_attempt_due=T0,
        now=T0,
        error="HTTP 429",
        retry_after=retry_after,
        jitter=lambda: jitter,
    )
    assert isinstance(decision, RetryAt)
    assert decision.delay_seconds == expected


def test_gives_up_at_the_attempt_limit_with_the_last_error() -> None:
    decision = POLICY.decide(20, first_attempt_due=T0, now=T0, error="HTTP 503", jitter=lambda: 0.5)
    assert decision == DeadLetter("gave up after 20 attempts; last: HTTP 503")


def test_gives_up_when_the_next_try_would_pass_the_age_limit() -> None:
    now = T0 + timedelta(hours=47, minutes=59)
    decision = POLICY.decide(5, first_attempt_due=T0, now=now, error="timeout", jitter=lambda: 0.9)
    assert isinstance(decision, DeadLetter)
    assert decision.reason.startswith("gave up after 48 h")


def test_one_attempt_less_than_the_limit_still_retries() -> None:
    decision = POLICY.decide(19, first_attempt_due=T0, now=T0, error="x", jitter=lambda: 0.0)
    assert isinstance(decision, RetryAt)
