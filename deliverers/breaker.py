"""The per-recipient circuit breaker, as pure decisions over a `Health` value.

Closed: attempts go ahead. After `failures_to_open` transient failures in a row it opens
for a while (doubling with each consecutive opening, up to a cap); meanwhile the recipient's
reports wait in the ledger and spend no attempts. When the time is up it is half-open: one
report goes ahead as a probe. Success (or any answer from the case system, even a
rejection) closes it; a failed probe opens it again for longer.
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
    probe_alive = (
        health.probe_report_id is not None
        and health.probe_started_at is not None
        and now - health.probe_started_at < timedelta(seconds=policy.probe_lease_seconds)
    )
    if probe_alive and health.probe_report_id != report_id:
        return Wait(
            now + timedelta(seconds=policy.probe_wait_seconds),
            f"breaker for {health.recipient} is half-open; a probe is in flight",
        )
    return Admit(replace(health, probe_report_id=report_id, probe_started_at=now), probe=True)


def after_success(health: Health, now: datetime) -> Health:
    return replace(_closed(health), last_success_at=now)


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
    )


def _closed(health: Health) -> Health:
    return replace(
        health,
        consecutive_failures=0,
        opens=0,
        open_until=None,
        probe_report_id=None,
        probe_started_at=None,
    )
