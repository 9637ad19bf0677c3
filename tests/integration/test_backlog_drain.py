"""A backlog for a recipient that was down drains at its capacity once it is back, and the
first delivery does not wait out the breaker's open time: on a real ledger, delivering over
HTTP to the real sandbox case system, which refuses connections while it is down.

The stages are called as the workers and the scheduler would call them, with a clock that
moves only when told to; nothing here depends on how fast this machine is."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError

from deliverers.base import Deliverer, Delivery, Receipt, Sent, StoredCopy, TransientError
from deliverers.breaker import BreakerPolicy
from deliverers.control import DeliveryControl
from deliverers.liveness import check_open_breakers
from deliverers.release import (
    ON_THEIR_WAY,
    QUEUED_AHEAD_FACTOR,
    RoomsAtRouting,
    room_at_routing,
)
from deliverers.rest_json import RestJsonDeliverer
from deliverers.retry import RetryPolicy
from deliverers.sandbox.app import SandboxConfig, create_sandbox_app
from deliverers.scheduled import release_due_retries
from deliverers.stage import OTHERS_WAIT_SECONDS, Claim, claim_attempt, deliver_report
from ledger import schema
from ledger.database import create_ledger_engine
from ledger.lifecycle import State
from ledger.migrate import upgrade
from ledger.records import NewReport
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from relay.servers import RestartableServer, ServerThread, bind
from router.routes import RouteTable, load_routes
from router.stage import route_received_in_turn, route_report, route_while_full
from tests.support.clock import T0, Clock
from tests.support.ledger import TEST_KEYS

pytestmark = pytest.mark.integration

SECRET = "s" * 32
BACKLOG = 30
CAPACITY = 4
ROOM = QUEUED_AHEAD_FACTOR * CAPACITY  # delivering, and queued behind them
CONTROL = DeliveryControl(
    policy=RetryPolicy(base_seconds=5, max_attempts=5),
    breaker=BreakerPolicy(failures_to_open=5, open_seconds=30, check_seconds=2),
    max_concurrent=CAPACITY,
)


class CaseSystem:
    """The sandbox on a port of its own, which can go down (connections refused) and come
    back on the same port."""

    def __init__(self) -> None:
        self.server = RestartableServer(create_sandbox_app(SandboxConfig(SECRET)))
        self.server.start()

    def down(self) -> None:
        self.server.stop()

    def back(self) -> None:
        self.server.server = ServerThread(self.server.app, bind(self.server.host, self.server.port))
        self.server.server.start()

    def stored(self) -> list[dict[str, object]]:
        answer = httpx.get(f"{self.server.url}/_sandbox/reports", timeout=5)
        answer.raise_for_status()
        stored: list[dict[str, object]] = answer.json()
        return stored


@pytest.fixture
def case_system() -> Iterator[CaseSystem]:
    running = CaseSystem()
    try:
        yield running
    finally:
        running.server.stop()


@pytest.fixture
def table(tmp_path: Path, case_system: CaseSystem) -> RouteTable:
    path = tmp_path / "routes.yaml"
    path.write_text(
        "recipients:\n"
        "  - {id: bergen, name: Bergen, serves: ['4601'], vendor: rest-json,"
        f" endpoint: '{case_system.server.url}', secret_env: S}}\n",
        "utf-8",
    )
    return load_routes(path, {"S": SECRET})


class Pipeline:
    """The delivery stage, the retry tick and the liveness check on one ledger and clock."""

    def __init__(self, engine: Engine, table: RouteTable, clock: Clock, endpoint: str) -> None:
        self.engine, self.table, self.clock = engine, table, clock
        self.client = httpx.Client()
        self.deliverer = RestJsonDeliverer(endpoint, SECRET, client=self.client)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, TEST_KEYS)

    def routed(self, count: int, *, admitted: bool = False) -> list[str]:
        """`count` reports received a millisecond apart from now, oldest first, and routed; with
        `admitted`, routed as the workers route them, asking whether the recipient has
        room (those it has none for wait in the ledger)."""
        admission = (lambda uow, r, at: room_at_routing(uow, r, CONTROL, at)) if admitted else None
        ids = self.received(count)
        for report_id in ids:
            state = route_report(self.uow(), self.table, report_id, self.clock, admission=admission)
            assert state in ({State.ROUTED, State.RETRY_SCHEDULED} if admitted else {State.ROUTED})
        return ids

    def received(self, count: int) -> list[str]:
        """`count` reports received a millisecond apart from now, oldest first, not routed."""
        ids = []
        for n in range(count):
            report_id = str(uuid.uuid4())
            with self.uow() as uow:
                uow.reports.add(
                    NewReport(
                        report_id,
                        "portal",
                        "no.ks.fiks.bekymringsmelding.privat.v2",
                        "4601",
                        "02",
                        self.clock() + timedelta(milliseconds=n),
                    ),
                    b'{"kommunenummer":"4601"}',
                    actor="intake:portal",
                    dispatch=ROUTE,
                )
                uow.commit()
            ids.append(report_id)
        return ids

    def deliver(
        self,
        report_id: str,
        *,
        control: DeliveryControl = CONTROL,
        deliverer: Deliverer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> State | None:
        return deliver_report(
            self.uow,
            report_id,
            deliverer_for=lambda recipient: deliverer or self.deliverer,
            control_for=lambda recipient: control,
            now=self.clock,
            jitter=lambda: 0.0,
            clock=clock,
        )

    def check(self) -> int:
        return check_open_breakers(
            self.uow, self.clock, lambda recipient: CONTROL, lambda recipient: self.deliverer
        )

    def tick(self) -> int:
        return release_due_retries(self.uow, self.clock, lambda recipient: CONTROL)

    def in_state(self, state: State) -> list[str]:
        with self.uow() as uow:
            return [r.id for r in uow.queries.reports_in([state], limit=100_000)]

    def released(self) -> list[str]:
        """ROUTED reports (on their way to a worker), in the order they were received."""
        with self.uow() as uow:
            routed = uow.queries.reports_in([State.ROUTED], limit=100_000)
        return [r.id for r in sorted(routed, key=lambda r: r.received_at)]


@pytest.fixture
def pipeline(
    ledger_engine: Engine, table: RouteTable, clock: Clock, case_system: CaseSystem
) -> Iterator[Pipeline]:
    running = Pipeline(ledger_engine, table, clock, case_system.server.url)
    try:
        yield running
    finally:
        running.client.close()


def open_by_an_outage(pipeline: Pipeline, case_system: CaseSystem) -> list[str]:
    """The recipient goes down; a backlog of reports arrives. The first five spend an
    attempt each and open the breaker; the rest wait without spending any."""
    case_system.down()
    backlog = pipeline.routed(BACKLOG)
    for report_id in backlog:
        assert pipeline.deliver(report_id) is State.RETRY_SCHEDULED
    with pipeline.uow() as uow:
        health = uow.health.get("bergen")
        reports = [uow.reports.get(report_id) for report_id in backlog]
    assert health.open_until == T0 + timedelta(seconds=30)
    assert [r.attempts for r in reports if r is not None] == [1] * 5 + [0] * (BACKLOG - 5)
    return backlog


def test_the_first_delivery_after_a_return_does_not_wait_for_the_open_time(
    pipeline: Pipeline, case_system: CaseSystem, clock: Clock
) -> None:
    backlog = open_by_an_outage(pipeline, case_system)

    clock.advance(2)
    assert pipeline.check() == 0  # not answering: checked, nothing released
    clock.advance(2)
    assert pipeline.check() == 0
    assert pipeline.tick() == 0

    case_system.back()
    clock.advance(2)  # 6 s after the breaker opened, 24 s before its open time is up
    assert pipeline.check() == 1  # answers: half-open now, the probe released at once
    [probe] = pipeline.released()
    assert probe == backlog[0]  # the oldest
    with pipeline.uow() as uow:
        last = uow.reports.history(probe)[-1]
        assert uow.health.get("bergen").probe_report_id == probe
    assert last.reason == "probe: is the recipient back?"
    assert last.at == T0 + timedelta(seconds=6)

    assert pipeline.deliver(probe) is State.DELIVERED
    with pipeline.uow() as uow:
        assert not uow.health.get("bergen").is_open
    # The probe's settlement filled the recipient's room with the next oldest reports.
    assert pipeline.released() == backlog[1 : 1 + ROOM]


def test_a_backlog_drains_at_capacity_oldest_first_without_the_tick(
    pipeline: Pipeline, case_system: CaseSystem, clock: Clock
) -> None:
    backlog = open_by_an_outage(pipeline, case_system)
    clock.advance(2)
    pipeline.check()
    case_system.back()
    clock.advance(2)
    assert pipeline.check() == 1

    # Workers deliver what is released; no scheduler tick runs from here on.
    rounds: list[list[str]] = []
    while released := pipeline.released():
        rounds.append(released)
        for report_id in released:
            assert pipeline.deliver(report_id) is State.DELIVERED
        assert len(rounds) <= BACKLOG, "the backlog does not drain"

    full, rest = divmod(BACKLOG - 1, ROOM)
    assert [len(r) for r in rounds] == [1, *[ROOM] * full, rest]  # the probe, then full room
    assert [report_id for r in rounds for report_id in r] == backlog  # oldest first
    assert sorted(pipeline.in_state(State.DELIVERED)) == sorted(backlog)
    assert pipeline.in_state(State.RETRY_SCHEDULED) == []

    stored = case_system.stored()
    assert sorted(str(item["id"]) for item in stored) == sorted(backlog)  # each once
    with pipeline.uow() as uow:
        reports = {r: uow.reports.get(r) for r in backlog}
        waited = backlog[-1]
        path = [(t.to_state, t.actor, t.reason) for t in uow.reports.history(waited)]
    # Those that opened the breaker spent one more attempt; the others only the one that
    # delivered them, with every wait and release recorded.
    assert [r.attempts for r in reports.values() if r is not None] == [2] * 5 + [1] * (BACKLOG - 5)
    assert [(state, actor) for state, actor, _ in path] == [
        (State.RECEIVED, "intake:portal"),
        (State.ROUTED, "router"),
        (State.RETRY_SCHEDULED, "deliverer"),
        (State.ROUTED, "deliverer"),  # released by a settled attempt, not by the tick
        (State.DELIVERING, "deliverer"),
        (State.DELIVERED, "deliverer"),
    ]
    assert str(path[2][2]).startswith("waiting, no attempt spent: breaker for bergen is open")
    assert path[3][2] == "released: its recipient has room"


def test_a_long_outage_spends_no_attempts_on_probes(
    pipeline: Pipeline, case_system: CaseSystem, clock: Clock
) -> None:
    backlog = open_by_an_outage(pipeline, case_system)

    # An hour down: the breaker's open time runs out again and again, but the recipient
    # is seen not answering, so no report is sent as a probe.
    for _ in range(3600 // 8):
        clock.advance(8)
        pipeline.check()
        assert pipeline.tick() == 0
    assert pipeline.released() == []
    with pipeline.uow() as uow:
        attempts = [r.attempts for r in map(uow.reports.get, backlog) if r is not None]
    assert attempts == [1] * 5 + [0] * (BACKLOG - 5)
    assert pipeline.in_state(State.DEAD_LETTERED) == []

    case_system.back()
    clock.advance(8)
    assert pipeline.check() == 1
    [probe] = pipeline.released()
    assert pipeline.deliver(probe) is State.DELIVERED
    assert len(pipeline.released()) == ROOM


def test_the_tick_releases_nothing_to_a_recipient_whose_slots_are_all_in_flight(
    pipeline: Pipeline, clock: Clock
) -> None:
    """Only a settlement queues reports ahead of free slots; the tick, which runs whether or
    not anything settled, would keep releasing what the claim parks again."""
    in_flight, waiting = pipeline.routed(CAPACITY), pipeline.routed(2)
    for report_id in in_flight:
        claimed = claim_attempt(
            pipeline.uow(),
            report_id,
            control_for=lambda recipient: CONTROL,
            now=clock,
            jitter=lambda: 0.0,
        )
        assert isinstance(claimed, Claim)
    for report_id in waiting:
        assert pipeline.deliver(report_id) is State.RETRY_SCHEDULED  # no free slot: parked
    clock.advance(60)
    assert pipeline.tick() == 0
    assert pipeline.released() == []
    assert sorted(pipeline.in_state(State.RETRY_SCHEDULED)) == sorted(waiting)


def test_a_release_reads_and_locks_no_more_waiting_reports_than_it_has_room_for(
    pipeline: Pipeline, clock: Clock
) -> None:
    """`limit` less those on their way, one at least (a half-open breaker's probe goes
    whatever is counted). A settlement read and locked `limit` waiting reports every time,
    and could release one or two of them."""
    burst = pipeline.routed(BACKLOG, admitted=True)  # ROOM on their way, the rest waiting

    def candidates(limit: int) -> list[str]:
        with pipeline.uow() as uow:
            ready = uow.queries.ready_to_release(
                "bergen", clock(), on_their_way=ON_THEIR_WAY, limit=limit
            )
        assert ready.on_their_way == ROOM
        return [report.id for report in ready.reports]

    assert candidates(ROOM + 3) == burst[ROOM : ROOM + 3]
    assert candidates(ROOM) == burst[ROOM : ROOM + 1]
    assert candidates(1) == burst[ROOM : ROOM + 1]


def outbox_rows(pipeline: Pipeline, report_ids: list[str]) -> list[int]:
    with pipeline.uow() as uow:
        return [uow.outbox.count(report_id) for report_id in report_ids]


def test_a_burst_for_one_recipient_waits_in_the_ledger_not_on_the_vendors_queue(
    pipeline: Pipeline,
) -> None:
    """Routing puts on the vendor's queue only as many of a recipient's reports as a
    settlement would release; the rest wait in the ledger and go oldest first, each released
    by a settlement, without the tick."""
    burst = pipeline.routed(BACKLOG, admitted=True)
    assert pipeline.released() == burst[:ROOM]
    assert outbox_rows(pipeline, burst) == [2] * ROOM + [1] * (BACKLOG - ROOM)  # route only
    assert sorted(pipeline.in_state(State.RETRY_SCHEDULED)) == sorted(burst[ROOM:])

    delivered: list[str] = []
    while released := pipeline.released():
        oldest = released[0]
        assert pipeline.deliver(oldest) is State.DELIVERED
        delivered.append(oldest)
        assert len(delivered) <= BACKLOG, "the burst does not drain"
    assert delivered == burst  # oldest first, every one
    assert pipeline.in_state(State.RETRY_SCHEDULED) == []
    with pipeline.uow() as uow:
        path = [(t.to_state, t.actor, t.reason) for t in uow.reports.history(burst[-1])]
        first_parked = uow.reports.history(burst[ROOM])[2].reason
        attempts = [r.attempts for r in map(uow.reports.get, burst) if r is not None]
    assert attempts == [1] * BACKLOG
    assert [(state, actor) for state, actor, _ in path] == [
        (State.RECEIVED, "intake:portal"),
        (State.ROUTED, "router"),
        (State.RETRY_SCHEDULED, "router"),
        (State.ROUTED, "deliverer"),  # released by a settled attempt
        (State.DELIVERING, "deliverer"),
        (State.DELIVERED, "deliverer"),
    ]
    assert first_parked == (
        f"waiting, no attempt spent: {ROOM} reports for its recipient on their way (room {ROOM})"
    )
    assert path[2][2] == "waiting, no attempt spent: older reports for its recipient wait"


def test_a_burst_routed_along_waits_as_if_routed_one_by_one_asking_for_room_once(
    pipeline: Pipeline, ledger_engine: Engine
) -> None:
    """Routing along asks the ledger for a recipient's room once per transaction and counts
    each report it routes after that itself: the same reports go and the same wait."""
    burst = pipeline.received(BACKLOG)
    asked: list[str] = []

    def count_room_queries(*args: object) -> None:
        statement = str(args[2])
        if "AS on_their_way" in statement:
            asked.append(statement)

    event.listen(ledger_engine, "before_cursor_execute", count_room_queries)
    try:
        routed = route_received_in_turn(
            pipeline.uow,
            pipeline.table,
            pipeline.clock,
            limit=BACKLOG,
            admission=RoomsAtRouting(lambda recipient: CONTROL),
        )
    finally:
        event.remove(ledger_engine, "before_cursor_execute", count_room_queries)

    assert routed == BACKLOG
    assert len(asked) == 1
    assert pipeline.released() == burst[:ROOM]
    assert outbox_rows(pipeline, burst) == [2] * ROOM + [1] * (BACKLOG - ROOM)
    with pipeline.uow() as uow:
        reasons = [r.state_reason for r in map(uow.reports.get, burst[ROOM:]) if r is not None]
    assert reasons == [
        f"waiting, no attempt spent: {ROOM} reports for its recipient on their way (room {ROOM})",
        *["waiting, no attempt spent: older reports for its recipient wait"] * (BACKLOG - ROOM - 1),
    ]


def test_reports_routed_while_the_breaker_is_open_wait_behind_the_older_ones(
    pipeline: Pipeline, case_system: CaseSystem, clock: Clock
) -> None:
    backlog = open_by_an_outage(pipeline, case_system)
    clock.advance(1)
    later = pipeline.routed(3, admitted=True)
    assert pipeline.released() == []  # nothing onto the vendor's queue while it is open
    assert outbox_rows(pipeline, later) == [1, 1, 1]
    with pipeline.uow() as uow:
        reasons = [r.state_reason for r in map(uow.reports.get, later) if r is not None]
    assert reasons == ["waiting, no attempt spent: its breaker is open"] * 3

    clock.advance(2)
    assert pipeline.check() == 0  # seen not answering
    case_system.back()
    clock.advance(2)
    assert pipeline.check() == 1
    [probe] = pipeline.released()
    assert probe == backlog[0]
    assert pipeline.deliver(probe) is State.DELIVERED
    delivered = [probe]
    while released := pipeline.released():
        for report_id in released:
            assert pipeline.deliver(report_id) is State.DELIVERED
            delivered.append(report_id)
    assert delivered == backlog + later  # the later ones after the older, none lost


class Pushes:
    """The real deliverer, behind a count of pushes that moves a monotonic clock on by
    `seconds` each and can fail one push (a transient error, as a timeout would be)."""

    def __init__(self, deliverer: Deliverer, *, seconds: float = 0.0, fail: int = 0) -> None:
        self.deliverer, self.seconds, self.fail = deliverer, seconds, fail
        self.now = 0.0
        self.ids: list[str] = []

    def read_back(self, report_id: str) -> StoredCopy | None:
        return self.deliverer.read_back(report_id)

    def list_since(self, since: datetime) -> set[str]:
        return self.deliverer.list_since(since)

    def deliver(self, delivery: Delivery) -> Receipt | Sent:
        self.ids.append(delivery.report_id)
        self.now += self.seconds
        if len(self.ids) == self.fail:
            raise TransientError("timed out")
        return self.deliverer.deliver(delivery)

    def clock(self) -> float:
        return self.now


def test_a_worker_goes_on_with_its_recipients_waiting_reports_without_a_message_each(
    pipeline: Pipeline, case_system: CaseSystem
) -> None:
    """One task's successful delivery is followed by the recipient's waiting reports, oldest
    first, each released and claimed in the transaction that settles the one before: no
    message, no task, no tick for them; every move still recorded."""
    burst = pipeline.routed(BACKLOG, admitted=True)
    queued, waiting = burst[:ROOM], burst[ROOM:]
    pushes = Pushes(pipeline.deliverer)
    going_on = dataclasses.replace(CONTROL, follow_on_seconds=60)

    assert pipeline.deliver(queued[0], control=going_on, deliverer=pushes) is State.DELIVERED

    assert pushes.ids == [queued[0], *waiting]  # the queued ones keep their own messages
    assert sorted(pipeline.in_state(State.DELIVERED)) == sorted([queued[0], *waiting])
    assert pipeline.released() == queued[1:]
    assert outbox_rows(pipeline, waiting) == [1] * len(waiting)  # routing's message only
    with pipeline.uow() as uow:
        path = [(t.to_state, t.actor, t.reason) for t in uow.reports.history(waiting[-1])]
        attempts = [r.attempts for r in map(uow.reports.get, waiting) if r is not None]
    assert attempts == [1] * len(waiting)
    assert [(state, actor) for state, actor, _ in path] == [
        (State.RECEIVED, "intake:portal"),
        (State.ROUTED, "router"),
        (State.RETRY_SCHEDULED, "router"),
        (State.ROUTED, "deliverer"),
        (State.DELIVERING, "deliverer"),
        (State.DELIVERED, "deliverer"),
    ]
    assert path[3][2] == "released: its recipient has room"
    assert sorted(str(item["id"]) for item in case_system.stored()) == sorted(pushes.ids)


def test_a_worker_stops_going_on_when_its_time_is_up_and_leaves_the_slot_to_a_message(
    pipeline: Pipeline,
) -> None:
    burst = pipeline.routed(BACKLOG, admitted=True)
    queued, waiting = burst[:ROOM], burst[ROOM:]
    pushes = Pushes(pipeline.deliverer, seconds=0.4)
    going_on = dataclasses.replace(CONTROL, follow_on_seconds=1.0)

    pipeline.deliver(queued[0], control=going_on, deliverer=pushes, clock=pushes.clock)

    # 0.4 s and 0.8 s into its time it goes on; at 1.2 s it stops, and that settlement
    # releases the next waiting report onto the queue, as without going on.
    assert pushes.ids == [queued[0], *waiting[:2]]
    assert pipeline.released() == [*queued[1:], waiting[2]]
    assert outbox_rows(pipeline, waiting[:3]) == [1, 1, 2]
    assert pipeline.in_state(State.DELIVERING) == []


class Meanwhile(Pushes):
    """As `Pushes`, and while push number `at` is made, `then` happens elsewhere."""

    def __init__(self, deliverer: Deliverer, *, at: int, then: Callable[[], object]) -> None:
        super().__init__(deliverer)
        self.at, self.then = at, then

    def deliver(self, delivery: Delivery) -> Receipt | Sent:
        if len(self.ids) + 1 == self.at:
            self.then()
        return super().deliver(delivery)


def test_a_worker_stops_going_on_once_another_report_has_waited_for_a_worker(
    pipeline: Pipeline, clock: Clock
) -> None:
    """A backlog does not stand in front of anyone else for more than a moment: the
    settlement after another report has waited OTHERS_WAIT_SECONDS releases the next
    waiting one onto the queue instead of claiming it."""
    burst = pipeline.routed(BACKLOG, admitted=True)
    queued, waiting = burst[:ROOM], burst[ROOM:]
    arrived: list[str] = []

    def another_arrives_and_waits() -> None:
        arrived.extend(pipeline.received(1))
        clock.advance(OTHERS_WAIT_SECONDS * 2)

    pushes = Meanwhile(pipeline.deliverer, at=3, then=another_arrives_and_waits)
    going_on = dataclasses.replace(CONTROL, follow_on_seconds=60)

    assert pipeline.deliver(queued[0], control=going_on, deliverer=pushes) is State.DELIVERED

    assert pushes.ids == [queued[0], *waiting[:2]]
    assert pipeline.released() == [*queued[1:], waiting[2]]
    assert pipeline.in_state(State.RECEIVED) == arrived
    assert pipeline.in_state(State.DELIVERING) == []


def test_another_recipients_routed_report_while_none_of_its_is_served_or_any_received_one_waits(
    pipeline: Pipeline, clock: Clock
) -> None:
    later = clock() + timedelta(seconds=1)
    with pipeline.uow() as uow:
        assert not uow.queries.others_waiting("bergen", later)
    routed = pipeline.routed(2)  # bergen's, on the queue since now
    with pipeline.uow() as uow:
        assert not uow.queries.others_waiting("bergen", later)
        assert uow.queries.others_waiting("oslo", later)
        assert not uow.queries.others_waiting("oslo", clock())  # not waiting before now
    claimed = claim_attempt(
        pipeline.uow(), routed[0], control_for=lambda r: CONTROL, now=clock, jitter=lambda: 0.0
    )
    assert isinstance(claimed, Claim)
    with pipeline.uow() as uow:  # a worker serves bergen: its other report waits its turn
        assert not uow.queries.others_waiting("oslo", later)
    pipeline.received(1)
    with pipeline.uow() as uow:
        assert uow.queries.others_waiting("bergen", later)


def test_a_failed_attempt_ends_the_going_on_and_claims_nothing_more(
    pipeline: Pipeline,
) -> None:
    burst = pipeline.routed(BACKLOG, admitted=True)
    queued, waiting = burst[:ROOM], burst[ROOM:]
    pushes = Pushes(pipeline.deliverer, fail=3)
    going_on = dataclasses.replace(CONTROL, follow_on_seconds=60)

    assert pipeline.deliver(queued[0], control=going_on, deliverer=pushes) is State.DELIVERED

    assert pushes.ids == [queued[0], *waiting[:2]]
    with pipeline.uow() as uow:
        failed = uow.reports.get(waiting[1])
        moves = [(t.from_state, t.to_state) for t in uow.reports.history(waiting[1])]
    assert failed is not None
    assert failed.attempts == 1
    assert (State.DELIVERING, State.RETRY_SCHEDULED) in moves  # the failure, recorded
    assert pipeline.in_state(State.DELIVERING) == []  # nothing claimed and left behind
    assert sorted(pipeline.in_state(State.DELIVERED)) == sorted([queued[0], waiting[0]])


class HoldsTheHealthRow:
    """The real deliverer, except that while it pushes, another transaction takes the lock
    on the recipient's health row and keeps it until `let_go`; with `fail`, the push
    fails (a transient error) instead."""

    def __init__(self, deliverer: Deliverer, engine: Engine, *, fail: bool = False) -> None:
        self.deliverer, self.engine, self.fail = deliverer, engine, fail
        self.holder: Connection | None = None

    def read_back(self, report_id: str) -> StoredCopy | None:
        return self.deliverer.read_back(report_id)

    def list_since(self, since: datetime) -> set[str]:
        return self.deliverer.list_since(since)

    def deliver(self, delivery: Delivery) -> Receipt | Sent:
        self.holder = self.engine.connect()
        row = schema.recipient_health.c.recipient == "bergen"
        self.holder.execute(select(schema.recipient_health).where(row).with_for_update()).one()
        if self.fail:
            raise TransientError("timed out")
        return self.deliverer.deliver(delivery)

    def let_go(self) -> None:
        if self.holder is not None:
            self.holder.close()


@pytest.fixture
def impatient(
    postgres_url: str, table: RouteTable, clock: Clock, case_system: CaseSystem
) -> Iterator[Pipeline]:
    """The pipeline on PostgreSQL, where a statement waiting over a second for a row's
    lock fails instead of waiting: a settlement that needs the health row shows it."""
    migrating = create_ledger_engine(postgres_url)
    upgrade(migrating)
    migrating.dispose()
    engine = create_engine(postgres_url, connect_args={"options": "-c lock_timeout=1000"})
    running = Pipeline(engine, table, clock, case_system.server.url)
    try:
        yield running
    finally:
        running.client.close()
        engine.dispose()


def test_a_success_settles_without_the_recipients_health_row_while_its_breaker_is_closed(
    impatient: Pipeline, clock: Clock
) -> None:
    """One recipient's settlements do not take turns on its health row: a success that
    changes nothing but the time of the last success, by under a second, neither writes nor
    locks it. A failure does both, and so does a success a second after the last."""
    first, second, third, fourth = impatient.routed(4)
    assert impatient.deliver(first) is State.DELIVERED  # the first success is written

    holding = HoldsTheHealthRow(impatient.deliverer, impatient.engine)
    try:
        assert impatient.deliver(second, deliverer=holding) is State.DELIVERED
    finally:
        holding.let_go()
    with impatient.uow() as uow:
        assert uow.health.get("bergen").last_success_at == T0

    failing = HoldsTheHealthRow(impatient.deliverer, impatient.engine, fail=True)
    try:
        with pytest.raises(OperationalError, match="lock"):
            impatient.deliver(third, deliverer=failing)
    finally:
        failing.let_go()

    clock.advance(1)
    holding = HoldsTheHealthRow(impatient.deliverer, impatient.engine)
    try:
        with pytest.raises(OperationalError, match="lock"):
            impatient.deliver(fourth, deliverer=holding)
    finally:
        holding.let_go()
    with impatient.uow() as uow:
        assert uow.health.get("bergen").last_success_at == T0


@pytest.mark.parametrize(
    ("until", "stop_after", "routed"),
    [
        (float("inf"), 99, [16, 16, 16, 2]),  # batch after batch until one is not full
        (float("inf"), 2, [16, 16]),  # a delivery waits for the worker: it stops
        (0.0, 99, [16]),  # its time is up after the first batch
    ],
)
def test_a_route_task_routes_a_burst_batch_after_batch_while_nobody_else_waits(
    pipeline: Pipeline, until: float, stop_after: int, routed: list[int]
) -> None:
    pipeline.received(50)
    asked: list[int] = []

    def someone_waits() -> bool:
        asked.append(len(asked) + 1)
        return len(asked) >= stop_after

    total = route_while_full(
        pipeline.uow,
        pipeline.table,
        pipeline.clock,
        limit=16,
        admission_for=lambda: RoomsAtRouting(lambda recipient: CONTROL),
        until=until,
        clock=lambda: 0.0,
        stop=someone_waits,
    )

    assert total == sum(routed)
    assert len(pipeline.in_state(State.RECEIVED)) == 50 - sum(routed)
