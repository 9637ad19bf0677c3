"""The per-recipient circuit breaker, as pure decisions over a `Health` value.

Closed: attempts go ahead. After `failures_to_open` transient failures in a row it opens
for a while (doubling with each consecutive opening, up to a cap); meanwhile the recipient's
reports wait in the ledger and spend no attempts. When the time is up it is half-open: one
report goes ahead as a probe. Success (or any answer from the case system, even a
rejection) closes it; a failed probe opens it again for longer.

While it is open, a liveness check (`deliverers.liveness`: a request that stores nothing)
asks every `check_seconds` whether the case system answers at all, and spends no report's
attempts. A recipient seen not answering that answers again is half-open at once, without
waiting out the (doubled) open time. While its latest check, still fresh, went unanswered,
no report is sent as a probe: a long outage does not wear down reports' attempt budgets.
Only a check that failed arms the early half-open, so a case system that answers checks but
fails deliveries is probed at the doubling pace, not every few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ledger.records import RecipientHealth as Health


@dataclass(frozen=True)
class BreakerPolicy:
    failures_to_open: int = 5
    open_seconds: float = 30.0
    max_open_seconds: float = 600.0
    probe_lease_seconds: float = 90.0  # a probe not heard from for this long is given up
    probe_wait_seconds: float = 2.0  # how long others wait while a probe is in flight
    check_seconds: float = 2.0  # while open: how often to check whether the recipient answers
    check_fresh_seconds: float = 10.0  # a check older than this says nothing any more

    def open_duration(self, opens: int) -> timedelta:
        exponent = min(max(opens - 1, 0), 32)
        return timedelta(seconds=min(self.max_open_seconds, self.open_seconds * 2**exponent))


@dataclass(frozen=True)
class Admit:
    health: Health  # with the probe marked, when this attempt is the probe
    probe: bool


@dataclass(frozen=True)
class Wait:
    until: datetime
    reason: str


def admit(health: Health, policy: BreakerPolicy, report_id: str, now: datetime) -> Admit | Wait:
    """May an attempt for `report_id` go ahead now?"""
    if health.open_until is None:
        return Admit(health, probe=False)
    if now < health.open_until:
        return Wait(
            health.open_until,
            f"breaker for {health.recipient} is open until {health.open_until.isoformat()}",
        )
    if probe_in_flight(health, policy, now) and health.probe_report_id == report_id:
        # the probe released for it goes, even if a check failed since
        return Admit(replace(health, probe_started_at=now), probe=True)
    if _not_answering(health, policy, now):
        return Wait(
            now + timedelta(seconds=policy.check_seconds),
            f"breaker for {health.recipient} is open; the case system does not answer",
        )
    if probe_in_flight(health, policy, now):
        return Wait(
            now + timedelta(seconds=policy.probe_wait_seconds),
            f"breaker for {health.recipient} is half-open; a probe is in flight",
        )
    return Admit(replace(health, probe_report_id=report_id, probe_started_at=now), probe=True)


def probe_in_flight(health: Health, policy: BreakerPolicy, now: datetime) -> bool:
    return (
        health.probe_report_id is not None
        and health.probe_started_at is not None
        and now - health.probe_started_at < timedelta(seconds=policy.probe_lease_seconds)
    )


def free_slots(
    health: Health, policy: BreakerPolicy, max_concurrent: int, busy: int, now: datetime
) -> int:
    """How many waiting reports may be released now, `busy` being already on their way
    (routed or in flight): none while open, one probe when half-open, else what is free."""
    if health.open_until is None:
        return max(max_concurrent - busy, 0)
    if now < health.open_until or _not_answering(health, policy, now):
        return 0
    return 0 if probe_in_flight(health, policy, now) else 1


def check_due(health: Health, policy: BreakerPolicy, now: datetime) -> bool:
    """Is it time to check whether this recipient answers? Only while its breaker is open."""
    return health.is_open and (
        health.checked_at is None
        or now - health.checked_at >= timedelta(seconds=policy.check_seconds)
    )


def after_check(health: Health, policy: BreakerPolicy, now: datetime, *, answered: bool) -> Health:
    """Record a liveness check. A recipient seen not answering that answers now is half-open
    at once: its next report goes as the probe. One that does not answer when its open time
    is up (and no probe is out) stays open for `check_fresh_seconds` more: nothing may go,
    so it is open, as the ledger and its metric say; if the checks stop, it half-opens then
    and the timed probe comes back."""
    if not health.is_open:
        return health  # closed meanwhile: nothing to learn
    checked = replace(health, checked_at=now, answering=answered)
    assert health.open_until is not None
    if answered and health.answering is False and now < health.open_until:
        return replace(checked, open_until=now)
    if not answered and now >= health.open_until and not probe_in_flight(health, policy, now):
        return replace(checked, open_until=now + timedelta(seconds=policy.check_fresh_seconds))
    return checked


def after_success(health: Health, now: datetime) -> Health:
    return replace(_closed(health), last_success_at=now)


SUCCESS_TIME_STEP = timedelta(seconds=1)


def worth_saving(before: Health, after: Health) -> bool:
    """Must `after` be written over `before`? Not when all that moved is the time of the
    last success, and by less than `SUCCESS_TIME_STEP`: then a closed breaker's successes
    need neither a write nor the row's lock, and the time shown lags by under a second."""
    if after == before:
        return False
    if replace(after, last_success_at=before.last_success_at) != before:
        return True
    if before.last_success_at is None or after.last_success_at is None:
        return True
    return after.last_success_at - before.last_success_at >= SUCCESS_TIME_STEP


def after_rejection(health: Health) -> Health:
    """The case system answered (a permanent refusal): it is up, so the breaker closes."""
    return _closed(health)


def after_transient_failure(
    health: Health, policy: BreakerPolicy, now: datetime, error: str
) -> Health:
    failures = health.consecutive_failures + 1
    half_open = health.open_until is not None and now >= health.open_until
    newly_failing = health.open_until is None and failures >= policy.failures_to_open
    failed = replace(health, consecutive_failures=failures, last_failure_at=now, last_error=error)
    if not (half_open or newly_failing):
        return failed
    opens = health.opens + 1
    return replace(
        failed,
        opens=opens,
        open_until=now + policy.open_duration(opens),
        probe_report_id=None,
        probe_started_at=None,
        answering=None,  # a new opening: only a check that fails again arms the early half-open
    )


def _not_answering(health: Health, policy: BreakerPolicy, now: datetime) -> bool:
    """The latest liveness check, still fresh, went unanswered."""
    return (
        health.answering is False
        and health.checked_at is not None
        and now - health.checked_at < timedelta(seconds=policy.check_fresh_seconds)
    )


def _closed(health: Health) -> Health:
    return replace(
        health,
        consecutive_failures=0,
        opens=0,
        open_until=None,
        probe_report_id=None,
        probe_started_at=None,
        checked_at=None,
        answering=None,
    )
