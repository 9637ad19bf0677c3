"""Stage-level tests on a real ledger: reports set up (received, routed) and read back, and
`Stages`, the delivery, proof and receipt stages wired to one ledger, routes and clock."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from deliverers.base import Deliverer
from deliverers.control import DeliveryControl
from deliverers.proof import verify_report
from deliverers.receipts import IncomingReceipt, handle_receipt
from deliverers.retry import RetryPolicy
from deliverers.scheduled import enforce_receipt_deadlines
from deliverers.stage import deliver_report
from ledger import schema
from ledger.lifecycle import State
from ledger.records import NewReport, Report
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from router.routes import ReceiptMode, RouteTable, load_routes
from router.stage import route_report
from tests.support.clock import T0, Clock
from tests.support.fakes import FakeCaseSystem, FakeMailbox
from tests.support.ledger import TEST_KEYS

BERGEN, OSLO = "4601", "0301"  # served by `bergen` (rest-json) and `oslo` (fiks-io)
RECEIPT_DEADLINE = 600.0
CONTROL = DeliveryControl(
    policy=RetryPolicy(base_seconds=10, max_attempts=3),
    receipt_deadline_seconds=RECEIPT_DEADLINE,
)


def received(engine: Engine, kommunenummer: str = "4601", at: datetime = T0) -> str:
    """A new report, RECEIVED at `at` from the portal, with its route message in the outbox."""
    report_id = str(uuid.uuid4())
    with UnitOfWork(engine, TEST_KEYS) as uow:
        uow.reports.add(
            NewReport(
                report_id,
                "portal",
                "no.ks.fiks.bekymringsmelding.privat.v2",
                kommunenummer,
                "02",
                at,
            ),
            b'{"kommunenummer":"4601"}',
            actor="intake:portal",
            dispatch=ROUTE,
        )
        uow.commit()
    return report_id


def routed(engine: Engine, table: RouteTable, clock: Clock, kommunenummer: str = "4601") -> str:
    """A new report, ROUTED by the router stage to the recipient `table` gives it."""
    report_id = received(engine, kommunenummer)
    assert route_report(UnitOfWork(engine, TEST_KEYS), table, report_id, clock) is State.ROUTED
    return report_id


def report(engine: Engine, report_id: str) -> Report:
    with UnitOfWork(engine, TEST_KEYS) as uow:
        found = uow.reports.get(report_id)
    assert found is not None
    return found


def history(engine: Engine, report_id: str) -> list[tuple[State | None, State]]:
    with UnitOfWork(engine, TEST_KEYS) as uow:
        return [(t.from_state, t.to_state) for t in uow.reports.history(report_id)]


def outbox_queues(engine: Engine, report_id: str) -> list[str]:
    """The queues of the report's unsent outbox rows, in the order they were written (the
    relay sends deliveries first: `OutboxStore.unpublished`)."""
    outbox = schema.outbox.c
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(outbox.queue)
                .where(outbox.report_id == report_id, outbox.published_at.is_(None))
                .order_by(outbox.id)
            ).scalars()
        )


def two_vendor_routes(directory: Path) -> RouteTable:
    """bergen (rest-json, strict receipts) serves BERGEN; oslo (fiks-io, strict) serves OSLO."""
    path = directory / "routes.yaml"
    path.write_text(
        "recipients:\n"
        f"  - {{id: bergen, name: Bergen, serves: ['{BERGEN}'], vendor: rest-json,"
        " endpoint: 'http://127.0.0.1:9', secret_env: S}\n"
        f"  - {{id: oslo, name: Oslo, serves: ['{OSLO}'], vendor: fiks-io,"
        " endpoint: 'fiksio://konto-oslo', receipt: strict}\n",
        "utf-8",
    )
    return load_routes(path, {"S": "x" * 32})


class Stages:
    """The stages under test, wired to one ledger, routes table and clock, paced by CONTROL
    (jitter fixed at 0.5)."""

    def __init__(self, engine: Engine, table: RouteTable, clock: Clock) -> None:
        self.engine = engine
        self.table = table
        self.clock = clock

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, TEST_KEYS)

    def receipt_mode(self, recipient: str) -> ReceiptMode:
        return self.table.recipients[recipient].receipt

    def deliver(self, report_id: str, deliverer: Deliverer) -> State | None:
        return deliver_report(
            self.uow,
            report_id,
            deliverer_for=lambda recipient: deliverer,
            control_for=lambda recipient: CONTROL,
            now=self.clock,
            jitter=lambda: 0.5,
        )

    def delivered(self, case_system: FakeCaseSystem) -> str:
        report_id = routed(self.engine, self.table, self.clock, BERGEN)
        assert self.deliver(report_id, case_system) is State.DELIVERED
        return report_id

    def awaiting(self, mailbox: FakeMailbox) -> str:
        report_id = routed(self.engine, self.table, self.clock, OSLO)
        assert self.deliver(report_id, mailbox) is State.AWAITING_RECEIPT
        return report_id

    def verify(self, report_id: str, deliverer: Deliverer) -> State | None:
        return verify_report(
            self.uow,
            report_id,
            deliverer_for=lambda recipient: deliverer,
            receipt_mode_for=self.receipt_mode,
            now=self.clock,
        )

    def receive(self, report_id: str, receipt_type: str, body: dict[str, str]) -> State | None:
        return handle_receipt(
            self.uow,
            IncomingReceipt(report_id, receipt_type, json.dumps(body).encode()),
            control_for=lambda recipient: CONTROL,
            receipt_mode_for=self.receipt_mode,
            now=self.clock,
            jitter=lambda: 0.5,
        )

    def enforce_deadlines(self) -> int:
        return enforce_receipt_deadlines(
            self.uow, self.clock, lambda recipient: CONTROL, lambda: 0.5
        )
