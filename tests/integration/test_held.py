"""HELD reports on real ledgers: listed with their reason, re-routed by an operator."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.lifecycle import State
from ledger.records import NewReport
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from router.held import Outcome, held_ids, held_reports, reroute
from router.routes import RouteTable, load_routes
from router.stage import route_report
from tests.support.clock import T0, Clock
from tests.support.ledger import TEST_KEYS

pytestmark = pytest.mark.integration

ENTRY = (
    "  - {{id: {id}, name: N, serves: [{serves}], vendor: rest-json,"
    " endpoint: 'http://127.0.0.1:9', secret_env: S}}\n"
)


def table(tmp_path: Path, **serves: str) -> RouteTable:
    path = tmp_path / f"routes-{uuid.uuid4().hex}.yaml"
    lines = [ENTRY.format(id=recipient, serves=numbers) for recipient, numbers in serves.items()]
    path.write_text("recipients:\n" + "".join(lines), "utf-8")
    return load_routes(path, {"S": "s" * 32})


def received(engine: Engine, kommunenummer: str, bydelsnummer: str | None = None) -> str:
    report_id = str(uuid.uuid4())
    with UnitOfWork(engine, TEST_KEYS) as uow:
        uow.reports.add(
            NewReport(report_id, "portal", "m", kommunenummer, bydelsnummer, T0),
            b"{}",
            actor="intake:portal",
            dispatch=ROUTE,
        )
        uow.commit()
    return report_id


def held(
    engine: Engine, old: RouteTable, clock: Clock, kommunenummer: str, bydel: str | None = None
) -> str:
    report_id = received(engine, kommunenummer, bydel)
    assert route_report(UnitOfWork(engine, TEST_KEYS), old, report_id, clock) is State.HELD
    return report_id


def test_held_reports_are_listed_with_their_reason(
    ledger_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    old = table(tmp_path, bergen="'4601-02'")
    first = held(ledger_engine, old, clock, "1201", "05")
    second = held(ledger_engine, old, clock, "1507")
    listed = held_reports(lambda: UnitOfWork(ledger_engine, TEST_KEYS))
    assert [(h.id, h.kommunenummer, h.bydelsnummer, h.by) for h in listed] == [
        (first, "1201", "05", "router"),
        (second, "1507", None, "router"),
    ]
    assert listed[0].reason == "no recipient serves 4601 bydel 05 (the report's 1201 is 4601 today)"
    assert listed[1].reason.startswith("kommunenummer 1507 was split in 2024 into 1508 and 1580")
    assert held_ids(lambda: UnitOfWork(ledger_engine, TEST_KEYS)) == [first, second]


def test_rerouting_routes_what_the_new_routes_serve_and_records_the_operator(
    ledger_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    old = table(tmp_path, bergen="'4601-02'")
    fixed = table(tmp_path, bergen="'4601-02'", laksevag="'4601-05'")
    still = held(ledger_engine, old, clock, "1507")
    now_served = held(ledger_engine, old, clock, "1201", "05")
    delivered = received(ledger_engine, "4601", "02")
    route_report(UnitOfWork(ledger_engine, TEST_KEYS), old, delivered, clock)

    def again(report_id: str) -> tuple[Outcome, str]:
        result = reroute(
            lambda: UnitOfWork(ledger_engine, TEST_KEYS),
            fixed,
            report_id,
            clock,
            actor="operator:kari",
            reason="Laksevåg has its own recipient now",
        )
        return result.outcome, result.detail

    assert again(now_served) == (Outcome.ROUTED, "laksevag")
    assert again(still)[0] is Outcome.STILL_HELD
    assert again(delivered) == (Outcome.NOT_HELD, "ROUTED")
    assert again("no-such-id") == (Outcome.NO_SUCH_REPORT, "")

    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(now_served)
        routed = uow.reports.history(now_served)
        held_again = uow.reports.history(still)
        unchanged = uow.reports.history(delivered)
    assert report is not None
    assert (report.recipient, report.kommunenummer, report.bydelsnummer) == (
        "laksevag",
        "4601",
        "05",
    )
    assert [t.to_state for t in routed] == [State.RECEIVED, State.HELD, State.ROUTED]
    assert (routed[-1].actor, routed[-1].reason) == (
        "operator:kari",
        "Laksevåg has its own recipient now",
    )
    assert [t.to_state for t in held_again] == [State.RECEIVED, State.HELD, State.HELD]
    assert held_again[-1].actor == "operator:kari"
    assert held_again[-1].reason is not None
    assert held_again[-1].reason.endswith("; choose the recipient")
    assert held_again[-1].detail == {"note": "Laksevåg has its own recipient now"}
    assert len(unchanged) == 2
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        queues = [m.queue for m in uow.outbox.unpublished() if m.report_id == now_served]
    assert queues == ["route", "deliver.rest-json"]
