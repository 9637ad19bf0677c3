"""The routing and delivery stages and the retry release, on real ledgers with fake case systems."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from deliverers.base import ContentMismatch, PermanentError, TransientError
from deliverers.breaker import BreakerPolicy
from deliverers.control import DeliveryControl
from deliverers.release import QUEUED_AHEAD_FACTOR
from deliverers.retry import RetryPolicy
from deliverers.scheduled import recover_abandoned_attempts, release_due_retries
from deliverers.stage import Claim, claim_attempt, deliver_report
from ledger.lifecycle import State
from ledger.outbox import sweep_stalled
from ledger.uow import UnitOfWork
from router.routes import RouteTable, load_routes
from router.stage import route_received_in_turn, route_report
from tests.support.clock import T0, Clock
from tests.support.fakes import FakeCaseSystem
from tests.support.ledger import TEST_KEYS
from tests.support.stages import history, outbox_queues, received, routed

pytestmark = pytest.mark.integration

CONTROL = DeliveryControl(policy=RetryPolicy(base_seconds=10, max_attempts=3))


@pytest.fixture
def table(tmp_path: Path) -> RouteTable:
    path = tmp_path / "routes.yaml"
    path.write_text(
        "recipients:\n"
        "  - {id: bergen, name: Bergen, serves: ['4601'], vendor: rest-json,"
        " endpoint: 'http://127.0.0.1:9', secret_env: S}\n",
        "utf-8",
    )
    return load_routes(path, {"S": "x" * 32})


def deliver(
    engine: Engine, report_id: str, case_system: FakeCaseSystem, clock: Clock, jitter: float = 0.5
) -> State | None:
    return deliver_report(
        lambda: UnitOfWork(engine, TEST_KEYS),
        report_id,
        deliverer_for=lambda recipient: case_system,
        control_for=lambda recipient: CONTROL,
        now=clock,
        jitter=lambda: jitter,
    )


def test_routing_records_the_recipient_and_queues_the_delivery(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = received(ledger_engine)
    assert (
        route_report(UnitOfWork(ledger_engine, TEST_KEYS), table, report_id, clock) is State.ROUTED
    )
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
    assert report is not None
    assert (report.recipient, report.vendor, report.kommunenummer) == (
        "bergen",
        "rest-json",
        "4601",
    )
    assert outbox_queues(ledger_engine, report_id) == ["route", "deliver.rest-json"]


def test_a_duplicate_route_message_does_nothing(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    assert route_report(UnitOfWork(ledger_engine, TEST_KEYS), table, report_id, clock) is None
    assert len(history(ledger_engine, report_id)) == 2


def test_a_worker_routes_received_reports_along_the_municipalities_taking_turns(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    """A burst for Bergen (4601) received first, then one report for Oslo (0301, held: no
    route here): Oslo's goes in the first turn, not after Bergen's burst."""
    burst = [received(ledger_engine, "4601", T0 + timedelta(seconds=n)) for n in range(4)]
    oslo = received(ledger_engine, "0301", T0 + timedelta(seconds=10))

    def along(limit: int) -> int:
        return route_received_in_turn(
            lambda: UnitOfWork(ledger_engine, TEST_KEYS), table, clock, limit=limit
        )

    assert along(2) == 2
    assert [len(history(ledger_engine, r)) for r in (*burst, oslo)] == [2, 1, 1, 1, 2]
    assert along(16) == 3
    assert along(16) == 0
    assert outbox_queues(ledger_engine, burst[-1]) == ["route", "deliver.rest-json"]
    for report_id in (*burst, oslo):  # their own messages find them moved on
        assert route_report(UnitOfWork(ledger_engine, TEST_KEYS), table, report_id, clock) is None
        assert len(history(ledger_engine, report_id)) == 2


def test_routing_along_takes_the_municipalities_whose_oldest_report_waited_longest(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    """With more municipalities waiting than a turn takes, those whose oldest RECEIVED
    report is the oldest go first; reports no longer RECEIVED are not taken."""
    oldest_first = ["5001", "0301", "4601", "1103"]
    ids = {
        kommune: [
            received(ledger_engine, kommune, T0 + timedelta(seconds=n + 10 * k)) for k in range(2)
        ]
        for n, kommune in enumerate(oldest_first)
    }
    moved = route_report(UnitOfWork(ledger_engine, TEST_KEYS), table, ids["5001"][0], clock)
    assert moved is not None  # no longer RECEIVED: 5001's oldest is now its second
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        assert uow.reports.received_in_turn(3) == [ids["0301"][0], ids["4601"][0], ids["1103"][0]]
        assert uow.reports.received_in_turn(16) == [
            *(ids[k][0] for k in ("0301", "4601", "1103")),
            ids["5001"][1],
            *(ids[k][1] for k in ("0301", "4601", "1103")),
        ]


def test_routing_along_commits_once_for_all_it_routes(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    burst = [received(ledger_engine, "4601", T0 + timedelta(seconds=n)) for n in range(5)]
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(ledger_engine, "commit", committed)
    try:
        routed = route_received_in_turn(
            lambda: UnitOfWork(ledger_engine, TEST_KEYS), table, clock, limit=16
        )
    finally:
        event.remove(ledger_engine, "commit", committed)
    assert routed == 5
    assert len(commits) == 1
    assert [len(history(ledger_engine, r)) for r in burst] == [2] * 5


def test_workers_routing_along_skip_a_report_another_holds(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    if ledger_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: nobody else holds a row")
    first, second = (received(ledger_engine, at=T0 + timedelta(seconds=n)) for n in range(2))
    with UnitOfWork(ledger_engine, TEST_KEYS) as holder:
        assert holder.reports.get(first, lock=True) is not None
        routed = route_received_in_turn(
            lambda: UnitOfWork(ledger_engine, TEST_KEYS), table, clock, limit=16
        )
        assert routed == 1
    assert [len(history(ledger_engine, r)) for r in (first, second)] == [1, 2]


def test_an_unrouted_municipality_is_held_with_a_reason(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = received(ledger_engine, kommunenummer="0301")
    assert route_report(UnitOfWork(ledger_engine, TEST_KEYS), table, report_id, clock) is State.HELD
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        [_, held] = uow.reports.history(report_id)
    assert held.reason == "no recipient serves 0301"


def test_a_receipt_makes_it_delivered_with_the_attempt_recorded(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    case_system = FakeCaseSystem()
    assert deliver(ledger_engine, report_id, case_system, clock) is State.DELIVERED
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
        last = uow.reports.history(report_id)[-1]
    assert report is not None
    assert report.saksreferanse == f"SAK-{report_id[:8]}"
    assert report.attempts == 1
    assert last.detail is not None
    assert last.detail["attempt"] == 1
    assert last.detail["status_code"] == 201


def test_a_duplicate_deliver_message_after_delivery_sends_nothing(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    case_system = FakeCaseSystem()
    deliver(ledger_engine, report_id, case_system, clock)
    assert deliver(ledger_engine, report_id, case_system, clock) is None
    assert case_system.attempts == [report_id]


def test_a_transient_failure_schedules_a_retry_kept_in_the_ledger(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    case_system = FakeCaseSystem(TransientError("HTTP 503", status_code=503))
    assert (
        deliver(ledger_engine, report_id, case_system, clock, jitter=0.5) is State.RETRY_SCHEDULED
    )
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
    assert report is not None
    assert report.next_attempt_at == T0 + timedelta(seconds=5)

    factory: Callable[[], UnitOfWork] = lambda: UnitOfWork(ledger_engine, TEST_KEYS)  # noqa: E731
    clock.advance(4)
    assert release_due_retries(factory, clock, lambda recipient: CONTROL) == 0
    clock.advance(1)
    assert release_due_retries(factory, clock, lambda recipient: CONTROL) == 1
    assert outbox_queues(ledger_engine, report_id)[-1] == "deliver.rest-json"
    assert deliver(ledger_engine, report_id, case_system, clock) is State.DELIVERED
    assert history(ledger_engine, report_id)[1:] == [
        (State.RECEIVED, State.ROUTED),
        (State.ROUTED, State.DELIVERING),
        (State.DELIVERING, State.RETRY_SCHEDULED),
        (State.RETRY_SCHEDULED, State.ROUTED),
        (State.ROUTED, State.DELIVERING),
        (State.DELIVERING, State.DELIVERED),
    ]


def test_a_permanent_rejection_is_dead_lettered_with_the_answer(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    case_system = FakeCaseSystem(PermanentError("HTTP 422: Ukjent kommune", status_code=422))
    assert deliver(ledger_engine, report_id, case_system, clock) is State.DEAD_LETTERED
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        last = uow.reports.history(report_id)[-1]
    assert last.reason == "HTTP 422: Ukjent kommune"


def test_a_content_mismatch_is_dead_lettered(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    assert (
        deliver(ledger_engine, report_id, FakeCaseSystem(ContentMismatch()), clock)
        is State.DEAD_LETTERED
    )


def test_exhausted_retries_are_dead_lettered(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    case_system = FakeCaseSystem(
        *(TransientError(f"HTTP 50{n}", status_code=500 + n) for n in range(3))
    )
    for _ in range(2):
        assert (
            deliver(ledger_engine, report_id, case_system, clock, jitter=0.0)
            is State.RETRY_SCHEDULED
        )
        release_due_retries(
            lambda: UnitOfWork(ledger_engine, TEST_KEYS), clock, lambda recipient: CONTROL
        )
    assert deliver(ledger_engine, report_id, case_system, clock) is State.DEAD_LETTERED
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        last = uow.reports.history(report_id)[-1]
    assert last.reason == "gave up after 3 attempts; last: HTTP 502"


BREAKER_CONTROL = DeliveryControl(
    policy=RetryPolicy(base_seconds=1, max_attempts=10),
    breaker=BreakerPolicy(failures_to_open=2, open_seconds=30),
    max_concurrent=1,
    lease_seconds=60,
)


def deliver_with(
    engine: Engine, report_id: str, case_system: FakeCaseSystem, clock: Clock
) -> State | None:
    return deliver_report(
        lambda: UnitOfWork(engine, TEST_KEYS),
        report_id,
        deliverer_for=lambda recipient: case_system,
        control_for=lambda recipient: BREAKER_CONTROL,
        now=clock,
        jitter=lambda: 0.0,
    )


def release(engine: Engine, clock: Clock) -> int:
    return release_due_retries(
        lambda: UnitOfWork(engine, TEST_KEYS), clock, lambda recipient: BREAKER_CONTROL
    )


def test_an_open_breaker_parks_reports_without_spending_attempts(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    down = FakeCaseSystem(*(TransientError("connection error (ConnectError)") for _ in range(2)))
    first, second, waiting = (routed(ledger_engine, table, clock) for _ in range(3))
    assert deliver_with(ledger_engine, first, down, clock) is State.RETRY_SCHEDULED
    assert deliver_with(ledger_engine, second, down, clock) is State.RETRY_SCHEDULED  # opens now

    assert deliver_with(ledger_engine, waiting, down, clock) is State.RETRY_SCHEDULED
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        parked = uow.reports.get(waiting)
        health = uow.health.get("bergen")
    assert parked is not None
    assert parked.attempts == 0
    assert parked.state_kind == "waiting"
    assert health.open_until == T0 + timedelta(seconds=30)
    assert down.attempts == [first, second]

    clock.advance(10)
    assert release(ledger_engine, clock) == 0  # open: everything keeps waiting

    clock.advance(25)
    assert release(ledger_engine, clock) == 1  # half-open: one probe
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        [probe] = uow.queries.reports_in([State.ROUTED])
        assert uow.health.get("bergen").probe_report_id == probe.id
    assert deliver_with(ledger_engine, probe.id, down, clock) is State.DELIVERED
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        assert not uow.health.get("bergen").is_open

    # The probe's settlement released the other two into the room it freed (max_concurrent=1:
    # one delivering, one queued behind it); the tick finds no room left.
    assert release(ledger_engine, clock) == 0
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        next_ones = uow.queries.reports_in([State.ROUTED])
    assert len(next_ones) == QUEUED_AHEAD_FACTOR * BREAKER_CONTROL.max_concurrent == 2
    for report in next_ones:
        assert deliver_with(ledger_engine, report.id, down, clock) is State.DELIVERED


def test_a_recipient_at_its_concurrency_limit_makes_others_wait(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    busy, other = routed(ledger_engine, table, clock), routed(ledger_engine, table, clock)
    factory: Callable[[], UnitOfWork] = lambda: UnitOfWork(ledger_engine, TEST_KEYS)  # noqa: E731
    claim = claim_attempt(
        factory(), busy, control_for=lambda r: BREAKER_CONTROL, now=clock, jitter=lambda: 0.0
    )
    assert isinstance(claim, Claim)
    waited = claim_attempt(
        factory(), other, control_for=lambda r: BREAKER_CONTROL, now=clock, jitter=lambda: 0.0
    )
    assert waited is State.RETRY_SCHEDULED
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(other)
    assert report is not None
    assert (
        report.state_reason
        == "waiting, no attempt spent: 1 deliveries to bergen in flight (limit 1)"
    )


def test_an_attempt_past_its_lease_is_delivered_again_and_the_late_outcome_ignored(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    factory: Callable[[], UnitOfWork] = lambda: UnitOfWork(ledger_engine, TEST_KEYS)  # noqa: E731
    claim = claim_attempt(
        factory(), report_id, control_for=lambda r: BREAKER_CONTROL, now=clock, jitter=lambda: 0.0
    )
    assert isinstance(claim, Claim)

    clock.advance(59)
    assert recover_abandoned_attempts(factory, clock) == 0
    clock.advance(2)
    assert recover_abandoned_attempts(factory, clock) == 1
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
        last = uow.reports.history(report_id)[-1]
    assert report is not None
    assert report.state is State.ROUTED
    assert last.reason == "attempt 1 had no outcome before its lease ran out"
    assert outbox_queues(ledger_engine, report_id)[-1] == "deliver.rest-json"
    assert deliver_with(ledger_engine, report_id, FakeCaseSystem(), clock) is State.DELIVERED
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
    assert report is not None
    assert report.attempts == 2


def test_the_sweeper_publishes_a_stalled_report_again_once(
    ledger_engine: Engine, table: RouteTable, clock: Clock
) -> None:
    report_id = routed(ledger_engine, table, clock)
    factory: Callable[[], UnitOfWork] = lambda: UnitOfWork(ledger_engine, TEST_KEYS)  # noqa: E731
    assert sweep_stalled(factory, clock, 600) == 0
    clock.advance(601)
    assert sweep_stalled(factory, clock, 600) == 1
    assert outbox_queues(ledger_engine, report_id) == [
        "route",
        "deliver.rest-json",
        "deliver.rest-json",
    ]
    clock.advance(10)
    assert sweep_stalled(factory, clock, 600) == 0, "dispatched recently: not again yet"
