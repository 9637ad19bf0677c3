"""The outbox relay sends committed rows and marks them sent: at least once, in order, the
ones sent marked even when a send fails; on PostgreSQL two relays never send the same rows
at once, and on SQLite the ledger's one write lock is not held while the broker is sent to."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from ledger.lifecycle import State
from ledger.outbox import RouteGate, publish_outbox
from ledger.records import NewReport, OutboxMessage
from ledger.topology import ROUTE, deliver_dispatch
from ledger.uow import UnitOfWork
from tests.support.clock import T0
from tests.support.ledger import TEST_KEYS

pytestmark = pytest.mark.integration

WRITE_WAIT = 5.0  # a write the relay does not hold up is done well within this


def received(engine: Engine) -> str:
    report_id = str(uuid.uuid4())
    with UnitOfWork(engine, TEST_KEYS) as uow:
        uow.reports.add(
            NewReport(
                report_id, "portal", "no.ks.fiks.bekymringsmelding.privat.v2", "4601", None, T0
            ),
            b"{}",
            actor="intake:portal",
            dispatch=ROUTE,
        )
        uow.commit()
    return report_id


class Publisher:
    """Keeps what it was given; `during` runs inside each send."""

    def __init__(self, during: Callable[[OutboxMessage], None] = lambda message: None) -> None:
        self.sent: list[str] = []
        self.during = during

    def publish(self, message: OutboxMessage) -> None:
        self.during(message)
        self.sent.append(message.report_id)


def relay(
    engine: Engine,
    publisher: Publisher,
    *,
    route_every: int = 1,
    route_gate: RouteGate | None = None,
) -> int:
    return publish_outbox(
        lambda: UnitOfWork(engine, TEST_KEYS),
        publisher,
        lambda: T0,
        route_every=route_every,
        route_gate=route_gate,
    )


def route(engine: Engine, report_id: str) -> None:
    """Route it as a worker routing along would: ROUTED, with its delivery message."""
    with UnitOfWork(engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id, lock=True)
        assert report is not None
        uow.reports.move(
            report,
            State.ROUTED,
            at=T0,
            actor="router",
            changes={"recipient": "bergen", "vendor": "rest-json"},
            dispatch=deliver_dispatch("rest-json"),
        )
        uow.commit()


def unpublished(engine: Engine) -> list[str]:
    with UnitOfWork(engine, TEST_KEYS) as uow:
        return [m.report_id for m in uow.outbox.unpublished()]


def test_the_ledger_takes_writes_while_the_relay_sends(ledger_engine: Engine) -> None:
    received(ledger_engine)
    written: list[str] = []

    def write_meanwhile(message: OutboxMessage) -> None:
        writer = threading.Thread(target=lambda: written.append(received(ledger_engine)))
        writer.start()
        writer.join(WRITE_WAIT)
        assert not writer.is_alive(), "a write waited for the outbox relay's send"

    assert relay(ledger_engine, Publisher(write_meanwhile)) == 1
    assert unpublished(ledger_engine) == written  # the one written meanwhile, not yet sent


def test_a_failed_send_leaves_the_rest_unsent_and_the_sent_marked(ledger_engine: Engine) -> None:
    first, second, third = (received(ledger_engine) for _ in range(3))

    def fail_on_second(message: OutboxMessage) -> None:
        if message.report_id == second:
            raise ConnectionError("the broker went away")

    publisher = Publisher(fail_on_second)
    with pytest.raises(ConnectionError):
        relay(ledger_engine, publisher)
    assert publisher.sent == [first]
    assert unpublished(ledger_engine) == [second, third]
    assert relay(ledger_engine, Publisher()) == 2


def test_two_relays_do_not_send_the_same_rows_at_once(ledger_engine: Engine) -> None:
    if ledger_engine.dialect.name == "sqlite":
        pytest.skip("SQLite: one relay a ledger file; a row sent twice is allowed (at least once)")
    received(ledger_engine)
    other = Publisher()
    first = Publisher(lambda message: other.sent.append(str(relay(ledger_engine, other))))
    assert relay(ledger_engine, first) == 1
    assert other.sent == ["0"]  # the other relay found the row taken and sent nothing
    assert unpublished(ledger_engine) == []


def test_a_message_for_a_report_already_past_its_stage_is_marked_not_sent(
    ledger_engine: Engine,
) -> None:
    """A burst's reports routed along by a worker before their own route messages went
    out: those messages would find them moved on, so they are not sent."""
    routed_along, waiting = received(ledger_engine), received(ledger_engine)
    route(ledger_engine, routed_along)
    publisher = Publisher()
    assert relay(ledger_engine, publisher) == 3  # all three rows marked
    # its route message skipped, not its delivery, which goes before the route messages
    assert publisher.sent == [routed_along, waiting]
    assert unpublished(ledger_engine) == []


def test_of_a_bursts_route_messages_one_in_n_is_sent_the_rest_wait_in_the_outbox(
    ledger_engine: Engine,
) -> None:
    """A worker routes others along with its own report, so one route message in
    `route_every` is enough; the rest stay unmarked, and the next pass marks those whose
    reports were routed meanwhile and sends the first still waiting: none is left behind."""
    burst = [received(ledger_engine) for _ in range(5)]
    publisher = Publisher()
    assert relay(ledger_engine, publisher, route_every=2) == 3
    assert publisher.sent == [burst[0], burst[2], burst[4]]
    assert unpublished(ledger_engine) == [burst[1], burst[3]]

    route(ledger_engine, burst[1])  # routed along by the worker that took burst[0]
    assert relay(ledger_engine, publisher, route_every=2) == 3  # burst[1]'s two, burst[3]
    assert publisher.sent[3:] == [burst[1], burst[3]]  # its delivery; the one still waiting
    assert unpublished(ledger_engine) == []


def test_route_messages_go_once_the_gate_opens_and_others_pass_it(ledger_engine: Engine) -> None:
    """After a route message of a report still RECEIVED, the next waits until the gate opens:
    its row stays unmarked, a delivery's message passes meanwhile, and once the gate opens
    the first still waiting goes (the one routed along meanwhile is marked, not sent)."""
    moment = [100.0]
    gate = RouteGate(0.1, clock=lambda: moment[0])
    first, along, later = (received(ledger_engine) for _ in range(3))
    publisher = Publisher()
    assert relay(ledger_engine, publisher, route_every=10, route_gate=gate) == 1
    assert publisher.sent == [first]
    assert not gate.held_back

    route(ledger_engine, along)  # routed along by first's task: its delivery's row is new
    moment[0] += 0.05
    assert relay(ledger_engine, publisher, route_every=10, route_gate=gate) == 2
    assert publisher.sent[1:] == [along]  # its delivery; its route message marked unsent
    assert gate.held_back
    assert unpublished(ledger_engine) == [later]

    moment[0] += 0.05
    assert relay(ledger_engine, publisher, route_every=10, route_gate=gate) == 1
    assert publisher.sent[2:] == [later]
    assert not gate.held_back
    assert unpublished(ledger_engine) == []
