from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deliverers.breaker import (
    Admit,
    BreakerPolicy,
    Wait,
    admit,
    after_rejection,
    after_success,
    after_transient_failure,
    worth_saving,
)
from ledger.records import RecipientHealth

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = BreakerPolicy(
    failures_to_open=3, open_seconds=30, max_open_seconds=120, probe_lease_seconds=60
)


def failing(times: int, start: RecipientHealth | None = None) -> RecipientHealth:
    health = start or RecipientHealth("bergen")
    for _ in range(times):
        health = after_transient_failure(health, POLICY, T0, "HTTP 503")
    return health


def test_a_closed_breaker_admits() -> None:
    assert admit(RecipientHealth("bergen"), POLICY, "r1", T0) == Admit(
        RecipientHealth("bergen"), probe=False
    )


def test_it_opens_after_the_configured_failures_in_a_row() -> None:
    assert not failing(2).is_open
    opened = failing(3)
    assert opened.open_until == T0 + timedelta(seconds=30)
    assert opened.last_error == "HTTP 503"


def test_while_open_reports_wait_until_it_may_be_probed() -> None:
    decision = admit(failing(3), POLICY, "r1", T0 + timedelta(seconds=10))
    assert isinstance(decision, Wait)
    assert decision.until == T0 + timedelta(seconds=30)


def test_when_half_open_exactly_one_probe_goes() -> None:
    later = T0 + timedelta(seconds=31)
    first = admit(failing(3), POLICY, "r1", later)
    assert isinstance(first, Admit)
    assert first.probe
    assert first.health.probe_report_id == "r1"
    assert isinstance(admit(first.health, POLICY, "r2", later), Wait)
    assert isinstance(admit(first.health, POLICY, "r1", later), Admit)


def test_a_lost_probe_is_given_up_after_its_lease() -> None:
    later = T0 + timedelta(seconds=31)
    first = admit(failing(3), POLICY, "r1", later)
    assert isinstance(first, Admit)
    replacement = admit(first.health, POLICY, "r2", later + timedelta(seconds=61))
    assert isinstance(replacement, Admit)
    assert replacement.health.probe_report_id == "r2"


def test_a_failed_probe_opens_it_again_for_longer_up_to_the_cap() -> None:
    health = failing(3)
    durations = []
    moment = T0
    for _ in range(4):
        moment = health.open_until or moment
        health = after_transient_failure(health, POLICY, moment, "timeout")
        assert health.open_until is not None
        durations.append((health.open_until - moment).total_seconds())
    assert durations == [60, 120, 120, 120]


@pytest.mark.parametrize("close", [lambda h: after_success(h, T0), after_rejection])
def test_any_answer_closes_it(close: object) -> None:
    closed = close(failing(5))  # type: ignore[operator]
    assert not closed.is_open
    assert closed.consecutive_failures == 0
    assert closed.opens == 0


def test_success_is_remembered() -> None:
    assert after_success(failing(1), T0).last_success_at == T0


SUCCEEDED = after_success(RecipientHealth("bergen"), T0)


@pytest.mark.parametrize(
    ("before", "after", "saved"),
    [
        # a closed breaker's success: only the time moved, by less than a second
        (SUCCEEDED, after_success(SUCCEEDED, T0 + timedelta(seconds=0.999)), False),
        (SUCCEEDED, after_success(SUCCEEDED, T0 + timedelta(seconds=1)), True),
        (SUCCEEDED, SUCCEEDED, False),
        # the first success ever is written
        (RecipientHealth("bergen"), SUCCEEDED, True),
        # a success that closes anything, however soon after the last
        (failing(1, SUCCEEDED), after_success(failing(1, SUCCEEDED), T0), True),
        (failing(3, SUCCEEDED), after_success(failing(3, SUCCEEDED), T0), True),
        # a failure, a refusal that resets a count
        (SUCCEEDED, failing(1, SUCCEEDED), True),
        (failing(1, SUCCEEDED), after_rejection(failing(1, SUCCEEDED)), True),
        (SUCCEEDED, after_rejection(SUCCEEDED), False),
    ],
)
def test_only_a_changed_breaker_or_a_second_of_success_time_is_worth_saving(
    before: RecipientHealth, after: RecipientHealth, saved: bool
) -> None:
    assert worth_saving(before, after) is saved
