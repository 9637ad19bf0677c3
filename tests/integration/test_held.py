"""HELD reports on real ledgers: listed with their reason, re-routed by an operator."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.lifecycle import State
from ledger.outbox import sweep_stalled
from ledger.records import NewReport
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from router.choice import Choice
from router.held import (
    Outcome,
    Result,
    held_ids,
    held_reports,
    outcome,
    request_reroute,
    resolve_held,
    wait_for_workers,
)
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


def as_a_worker(engine: Engine, table: RouteTable, clock: Clock, report_id: str) -> State | None:
    """What the worker that takes the report's routing message does, with its own table."""
    return route_report(
        UnitOfWork(engine, TEST_KEYS), table, report_id, clock, act_on_requests=True
    )


def test_rerouting_routes_what_the_workers_routes_serve_and_records_the_operator(
    ledger_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    old = table(tmp_path, bergen="'4601-02'")
    fixed = table(tmp_path, bergen="'4601-02'", laksevag="'4601-05'")
    fixed = replace(fixed, sha256="f" * 64)
    still = held(ledger_engine, old, clock, "1507")
    now_served = held(ledger_engine, old, clock, "1201", "05")
    delivered = received(ledger_engine, "4601", "02")
    route_report(UnitOfWork(ledger_engine, TEST_KEYS), old, delivered, clock)

    def uow() -> UnitOfWork:
        return UnitOfWork(ledger_engine, TEST_KEYS)

    def again(report_id: str) -> Result:
        return request_reroute(
            uow, report_id, clock, actor="operator:kari", reason="Laksevåg has its own recipient"
        )

    requests = {report_id: again(report_id) for report_id in (now_served, still, delivered)}
    assert requests[delivered].outcome is Outcome.NOT_HELD
    assert again("no-such-id").outcome is Outcome.NO_SUCH_REPORT
    assert [h.requested for h in held_reports(uow)] == [True, True]
    # Recorded, not yet acted on: a request is carried out by a worker.
    assert outcome(uow, requests[now_served]).outcome is Outcome.PENDING
    with uow() as unit:
        queued = [m.queue for m in unit.outbox.unpublished() if m.report_id == now_served]
    assert queued == ["route", "route"]

    assert as_a_worker(ledger_engine, fixed, clock, now_served) is State.ROUTED
    assert as_a_worker(ledger_engine, fixed, clock, still) is State.HELD
    assert as_a_worker(ledger_engine, fixed, clock, still) is None, "acted on twice"
    assert (
        outcome(uow, requests[now_served]).outcome,
        outcome(uow, requests[now_served]).detail,
    ) == (
        Outcome.ROUTED,
        "laksevag",
    )
    assert outcome(uow, requests[still]).outcome is Outcome.STILL_HELD

    with uow() as unit:
        report = unit.reports.get(now_served)
        routed = unit.reports.history(now_served)
        held_again = unit.reports.history(still)
        unchanged = unit.reports.history(delivered)
    assert report is not None
    assert (report.recipient, report.kommunenummer, report.bydelsnummer) == (
        "laksevag",
        "4601",
        "05",
    )
    assert [t.to_state for t in routed] == [State.RECEIVED, State.HELD, State.HELD, State.ROUTED]
    assert (routed[2].actor, routed[2].reason) == (
        "operator:kari",
        "Laksevåg has its own recipient",
    )
    assert routed[-1].actor == "router"
    assert routed[-1].reason == "as operator:kari asked: Laksevåg has its own recipient"
    assert routed[-1].detail is not None
    assert routed[-1].detail["requested_by"] == "operator:kari"
    assert routed[-1].detail["routes_sha256"] == "f" * 64, "not the worker's table"
    assert [t.to_state for t in held_again] == [State.RECEIVED, State.HELD, State.HELD, State.HELD]
    assert held_again[-1].actor == "router"
    assert held_again[-1].reason is not None
    assert held_again[-1].reason.endswith("; choose the recipient")
    assert len(unchanged) == 2


def test_a_chosen_recipient_gets_a_split_report_only_if_it_serves_a_part(
    ledger_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    routes = table(tmp_path, bergen="'4601'", more="'1580'")

    def uow() -> UnitOfWork:
        return UnitOfWork(ledger_engine, TEST_KEYS)

    def choose(report_id: str, choice: Choice) -> Result:
        requested = request_reroute(
            uow, report_id, clock, actor="operator:kari", reason="asked the service", choice=choice
        )
        as_a_worker(ledger_engine, routes, clock, report_id)
        return outcome(uow, requested)

    split = held(ledger_engine, routes, clock, "1507")
    wrong = choose(split, Choice("bergen"))
    assert wrong.outcome is Outcome.STILL_HELD
    assert wrong.detail.startswith("bergen serves none of 1508 and 1580")
    unknown = choose(split, Choice("nobody"))
    assert unknown.outcome is Outcome.STILL_HELD
    assert unknown.detail.startswith("recipient nobody, chosen by the operator, is not in the")
    assert choose(split, Choice("more")).outcome is Outcome.ROUTED
    with uow() as unit:
        report = unit.reports.get(split)
    assert report is not None
    assert (report.state, report.recipient, report.kommunenummer) == (State.ROUTED, "more", "1580")

    svalbard = held(ledger_engine, routes, clock, "2100")
    assert choose(svalbard, Choice("more")).outcome is Outcome.STILL_HELD
    forced = choose(svalbard, Choice("more", force=True))
    assert (forced.outcome, forced.detail) == (Outcome.ROUTED, "more")
    with uow() as unit:
        report = unit.reports.get(svalbard)
        history = unit.reports.history(svalbard)
    assert report is not None
    assert report.kommunenummer == "2100", "forced: the number the report carried"
    assert history[-2].detail == {"reroute": {"recipient": "more", "force": True}}


def test_a_held_report_is_resolved_by_hand_and_only_a_held_one(
    ledger_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    routes = table(tmp_path, bergen="'4601'")

    def uow() -> UnitOfWork:
        return UnitOfWork(ledger_engine, TEST_KEYS)

    split = held(ledger_engine, routes, clock, "1507")
    routed = received(ledger_engine, "4601")
    route_report(uow(), routes, routed, clock)
    done = resolve_held(uow, split, clock, actor="operator:kari", reason="sent by post to Molde")
    assert (done.outcome, done.detail) == (Outcome.RESOLVED, "RESOLVED_MANUALLY")
    assert resolve_held(uow, routed, clock, actor="operator:kari", reason="x").outcome is (
        Outcome.NOT_HELD
    )
    with uow() as unit:
        last = unit.reports.history(split)[-1]
    assert (last.to_state, last.actor, last.reason) == (
        State.RESOLVED_MANUALLY,
        "operator:kari",
        "sent by post to Molde",
    )


def test_a_request_no_worker_took_is_swept_back_onto_the_routing_queue(
    ledger_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    routes = table(tmp_path, bergen="'4601'")

    def uow() -> UnitOfWork:
        return UnitOfWork(ledger_engine, TEST_KEYS)

    split = held(ledger_engine, routes, clock, "1507")
    plain = held(ledger_engine, routes, clock, "1508")
    request_reroute(uow, split, clock, actor="operator:kari", reason=None)
    with uow() as unit:
        published = [m.id for m in unit.outbox.unpublished()]
        unit.outbox.mark_published(published, clock())
        unit.commit()
    clock.advance(3600)
    assert sweep_stalled(uow, clock, 600) == 1
    with uow() as unit:
        assert [m.report_id for m in unit.outbox.unpublished()] == [split]
    assert plain != split


def test_the_operator_waits_until_a_worker_acted_or_the_time_is_up(
    ledger_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    routes = table(tmp_path, haram="'1580'")

    def uow() -> UnitOfWork:
        return UnitOfWork(ledger_engine, TEST_KEYS)

    first, second = (held(ledger_engine, routes, clock, "1507") for _ in range(2))
    requested = [
        request_reroute(uow, report_id, clock, actor="operator:kari", reason="x", choice=choice)
        for report_id, choice in ((first, Choice("haram")), (second, Choice("haram")))
    ]
    seen: list[int] = []

    def a_worker_meanwhile(seconds: float) -> None:  # the wait's sleep: one worker acts
        clock.advance(seconds)
        as_a_worker(ledger_engine, routes, clock, first)

    results = wait_for_workers(
        uow,
        requested,
        timeout_seconds=2,
        on_progress=seen.append,
        clock=clock.monotonic,
        sleep=a_worker_meanwhile,
    )
    assert [(r.id, r.outcome, r.detail) for r in results] == [
        (first, Outcome.ROUTED, "haram"),
        (second, Outcome.PENDING, "haram"),  # no worker took it in time: still asked for
    ]
    assert (seen[0], seen[-1]) == (0, 1)
