"""The breaker's liveness check and the release's room: pure decisions, tables of cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from deliverers.base import PermanentError, TransientError
from deliverers.breaker import (
    Admit,
    BreakerPolicy,
    Wait,
    admit,
    after_check,
    after_success,
    after_transient_failure,
    check_due,
    free_slots,
)
from deliverers.fiks_io import Unsupported
from deliverers.liveness import answers
from deliverers.release import QUEUED_AHEAD_FACTOR, ready, wait_at_routing
from ledger.lifecycle import State
from ledger.records import RecipientHealth, Report, StateKind

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = BreakerPolicy(failures_to_open=1, open_seconds=30, check_seconds=2, check_fresh_seconds=10)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


CLOSED = RecipientHealth("bergen")
OPEN = after_transient_failure(CLOSED, POLICY, T0, "connection error")  # open until T0+30
DOWN = replace(OPEN, checked_at=at(2), answering=False)  # seen not answering at T0+2
PROBING = replace(OPEN, open_until=at(5), probe_report_id="p", probe_started_at=at(5))


@pytest.mark.parametrize(
    ("health", "now", "due"),
    [
        (CLOSED, at(0), False),  # closed: nothing to check
        (OPEN, at(0), True),  # just opened, never checked
        (DOWN, at(3), False),  # checked a second ago
        (DOWN, at(4), True),  # check_seconds later
        (replace(DOWN, open_until=at(1)), at(40), True),  # half-open on time: still checked
    ],
)
def test_a_check_is_due_every_check_seconds_while_open(
    health: RecipientHealth, now: datetime, due: bool
) -> None:
    assert check_due(health, POLICY, now) is due


@pytest.mark.parametrize(
    ("health", "answered", "open_until", "answering"),
    [
        (OPEN, True, at(30), True),  # answers, but never seen down: the timer stands
        (OPEN, False, at(30), False),  # not answering: arms the early half-open
        (DOWN, False, at(30), False),  # still down
        (DOWN, True, at(4), True),  # back: half-open now
        (replace(DOWN, open_until=at(3)), True, at(3), True),  # already half-open
        # half-open, no probe out, not answering: open again until the check goes stale
        (replace(DOWN, open_until=at(3)), False, at(14), False),
        (replace(PROBING, open_until=at(3)), False, at(3), False),  # a probe is out: it decides
    ],
)
def test_a_recipient_seen_down_that_answers_is_half_open_at_once(
    health: RecipientHealth, answered: bool, open_until: datetime, answering: bool
) -> None:
    checked = after_check(health, POLICY, at(4), answered=answered)
    assert (checked.open_until, checked.answering, checked.checked_at) == (
        open_until,
        answering,
        at(4),
    )


def test_a_check_on_a_closed_breaker_changes_nothing() -> None:
    assert after_check(CLOSED, POLICY, at(4), answered=False) == CLOSED


def test_a_failed_probe_after_an_early_half_open_needs_a_failed_check_to_arm_it_again() -> None:
    back = after_check(DOWN, POLICY, at(4), answered=True)
    failed = after_transient_failure(back, POLICY, at(4), "HTTP 500")
    assert failed.open_until == at(4) + timedelta(seconds=60)  # doubled
    assert failed.answering is None
    still_answering = after_check(failed, POLICY, at(6), answered=True)
    assert still_answering.open_until == failed.open_until  # no probe every few seconds


def test_closing_forgets_the_checks() -> None:
    closed = after_success(DOWN, at(40))
    assert (closed.checked_at, closed.answering, closed.open_until) == (None, None, None)


@pytest.mark.parametrize(
    ("health", "now", "expected"),
    [
        (OPEN, at(10), "wait"),  # open
        (OPEN, at(31), "probe"),  # half-open on time, never checked: the timed probe
        # half-open on time, but a fresh check found the case system not answering
        (replace(DOWN, checked_at=at(29)), at(31), "wait"),
        (DOWN, at(31), "probe"),  # a stale check (the checker stopped) says nothing
        (after_check(DOWN, POLICY, at(4), answered=True), at(4), "probe"),  # back: probe at once
        (PROBING, at(6), "wait"),  # another report's probe is in flight
    ],
)
def test_what_the_breaker_admits(health: RecipientHealth, now: datetime, expected: str) -> None:
    decision = admit(health, POLICY, "r1", now)
    assert ("wait" if isinstance(decision, Wait) else "probe") == expected
    if isinstance(decision, Admit):
        assert decision.probe
        assert decision.health.probe_report_id == "r1"


def test_the_released_probe_goes_even_if_a_check_failed_since() -> None:
    released = replace(PROBING, checked_at=at(6), answering=False)
    decision = admit(released, POLICY, "p", at(6))
    assert isinstance(decision, Admit)
    assert decision.probe


@pytest.mark.parametrize(
    ("health", "busy", "now", "slots"),
    [
        (CLOSED, 0, at(0), 4),
        (CLOSED, 3, at(0), 1),
        (CLOSED, 4, at(0), 0),
        (CLOSED, 9, at(0), 0),  # more on their way than allowed (several releasers): none
        (OPEN, 0, at(10), 0),  # open
        (OPEN, 0, at(31), 1),  # half-open: one probe
        # half-open but not answering: no probe spends an attempt
        (replace(DOWN, checked_at=at(29)), 0, at(31), 0),
        (PROBING, 0, at(6), 0),  # the probe is in flight
        (PROBING, 0, at(5 + 91), 1),  # the probe was lost: another
    ],
)
def test_free_slots(health: RecipientHealth, busy: int, now: datetime, slots: int) -> None:
    assert free_slots(health, POLICY, 4, busy, now) == slots


class Answers:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def list_since(self, since: datetime) -> set[str]:
        if self.error is not None:
            raise self.error
        return set()


@pytest.mark.parametrize(
    ("error", "answered"),
    [
        (None, True),
        (PermanentError("HTTP 401"), True),  # it answered, if only to refuse
        (TransientError("connection error (ConnectError)"), False),
        (TransientError("HTTP 503", status_code=503), False),
        (Unsupported("fiks-io has no listing"), None),
    ],
)
def test_what_counts_as_answering(error: Exception | None, answered: bool | None) -> None:
    assert answers(Answers(error), T0) is answered  # type: ignore[arg-type]


def report(state: State, kind: StateKind | None, next_attempt_at: datetime | None) -> Report:
    return Report(
        id="r1",
        client_id="portal",
        meldingstype="no.ks.fiks.bekymringsmelding.privat.v2",
        state=state,
        submitted_kommunenummer="4601",
        submitted_bydelsnummer=None,
        kommunenummer="4601",
        bydelsnummer=None,
        recipient="bergen",
        vendor="rest-json",
        received_at=T0,
        sendingstidspunkt=None,
        updated_at=T0,
        attempts=0,
        routed_at=T0,
        next_attempt_at=next_attempt_at,
        delivery_sha256=None,
        saksreferanse=None,
        last_sequence=3,
        last_hash="0" * 64,
        state_kind=kind,
    )


@pytest.mark.parametrize(
    ("candidate", "is_ready"),
    [
        # waited for its recipient: ready whenever the recipient is, whatever its hint said
        (report(State.RETRY_SCHEDULED, StateKind.WAITING, at(600)), True),
        # failed an attempt: its backoff stands
        (report(State.RETRY_SCHEDULED, StateKind.RETRYING, at(600)), False),
        (report(State.RETRY_SCHEDULED, StateKind.RETRYING, at(5)), True),
        (report(State.ROUTED, None, None), False),  # moved on since it was chosen
    ],
)
def test_which_waiting_reports_are_ready(candidate: Report, is_ready: bool) -> None:
    assert ready(candidate, at(10)) is is_ready


ROOM = QUEUED_AHEAD_FACTOR * 4


@pytest.mark.parametrize(
    ("breaker_set", "on_their_way", "waiting_ahead", "expected"),
    [
        (False, 0, False, None),  # room: onto the vendor's queue
        (False, ROOM - 1, False, None),  # the last place
        (False, ROOM, False, f"{ROOM} reports for its recipient on their way (room {ROOM})"),
        (
            False,
            ROOM + 3,
            False,
            f"{ROOM + 3} reports for its recipient on their way (room {ROOM})",
        ),
        (False, 0, True, "older reports for its recipient wait"),  # they go first
        (True, 0, False, "its breaker is open"),  # open or half-open: the release picks
        (True, ROOM, True, "its breaker is open"),
    ],
)
def test_routing_sends_a_report_on_only_while_its_recipient_has_room(
    breaker_set: bool, on_their_way: int, waiting_ahead: bool, expected: str | None
) -> None:
    assert wait_at_routing(breaker_set, on_their_way, waiting_ahead, max_concurrent=4) == expected
