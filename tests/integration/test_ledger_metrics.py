"""The ledger's gauges read at scrape time, on real ledgers (SQLite, and PostgreSQL where
available): a table of ledgers and the samples each must show; the partial index the
unfinished-report queries read; a ledger that cannot be reached leaves the gauges out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.sql import ClauseElement

from ledger import summary
from ledger.alerts import OverdueLimits
from ledger.database import create_ledger_engine
from ledger.heartbeats import PROCESS, Beat
from ledger.lifecycle import State
from ledger.records import DeadLetterKind, NewReport, RecipientHealth
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from relay.ledger_metrics import LedgerCollector
from tests.support.clock import T0
from tests.support.ledger import PATHS, TEST_KEYS

pytestmark = pytest.mark.integration

NOW = T0
ROUTES = ("bergen", "oslo")
STEPS = {
    **PATHS,
    State.DELIVERING: [State.ROUTED, State.DELIVERING],
    State.AWAITING_RECEIPT: [State.ROUTED, State.DELIVERING, State.AWAITING_RECEIPT],
}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def place(
    engine: Engine,
    state: State,
    recipient: str | None,
    age: float,
    kind: DeadLetterKind | None = None,
) -> str:
    """A report received `age` seconds before NOW, moved along the usual path to `state`
    (routed to `recipient`, if given), its outbox row published."""
    at = NOW - timedelta(seconds=age)
    report_id = str(uuid.uuid4())
    with UnitOfWork(engine, TEST_KEYS) as uow:
        new = NewReport(
            report_id, "portal", "no.ks.fiks.bekymringsmelding.privat.v2", "4601", None, at
        )
        report = uow.reports.add(new, b"{}", actor="intake:portal", dispatch=ROUTE)
        path = STEPS[state]
        for step in path:
            changes: dict[str, object] = {}
            if step is State.ROUTED:
                changes = {"recipient": recipient, "vendor": "rest-json", "routed_at": at}
            last = step is path[-1]
            report = uow.reports.move(
                report, step, at=at, actor="test", kind=kind if last else None, changes=changes
            )
        uow.outbox.mark_published([m.id for m in uow.outbox.unpublished()], at)
        uow.commit()
    return report_id


def unpublished(engine: Engine, age: float) -> None:
    """A report whose outbox row has waited `age` seconds to be published."""
    at = NOW - timedelta(seconds=age)
    with UnitOfWork(engine, TEST_KEYS) as uow:
        new = NewReport(str(uuid.uuid4()), "portal", "no.ks.x", "4601", None, at)
        uow.reports.add(new, b"{}", actor="intake:portal", dispatch=ROUTE)
        uow.commit()


def breaker(engine: Engine, recipient: str, open_for: float) -> None:
    """The recipient's breaker open until `open_for` seconds after NOW (negative: half-open)."""
    with UnitOfWork(engine) as uow:
        health = uow.health.get(recipient, lock=True)
        until = NOW + timedelta(seconds=open_for)
        uow.health.save(RecipientHealth(health.recipient, 5, 1, until))
        uow.commit()


def beat(engine: Engine, process: str, role: str, age: float, queue: str = PROCESS) -> None:
    at = NOW - timedelta(seconds=age)
    with UnitOfWork(engine) as uow:
        uow.heartbeats.beat(Beat(process, queue, role, "host", 1, at - timedelta(hours=1), at))
        uow.commit()


@dataclass(frozen=True)
class Case:
    setup: Callable[[Engine], None]
    expected: dict[tuple[str, tuple[str, ...]], float]  # (name, label values) -> value
    limits: OverdueLimits = field(default_factory=lambda: OverdueLimits(3600))


def nothing(engine: Engine) -> None:
    del engine


def by_state(engine: Engine) -> None:
    for _ in range(2):
        place(engine, State.VERIFIED, "bergen", 60)
    place(engine, State.DELIVERING, "bergen", 60)
    place(engine, State.AWAITING_RECEIPT, "oslo", 60)
    place(engine, State.RECEIVED, None, 5)


def oldest(engine: Engine) -> None:
    place(engine, State.VERIFIED, "bergen", 1000)
    place(engine, State.RESOLVED_MANUALLY, "bergen", 900)
    place(engine, State.ROUTED, "bergen", 300)
    place(engine, State.RETRY_SCHEDULED, "bergen", 100)


def overdue(engine: Engine) -> None:
    place(engine, State.ROUTED, "bergen", 4000)  # past the default hour
    place(engine, State.DEAD_LETTERED, "bergen", 3700, DeadLetterKind.EXHAUSTED)
    place(engine, State.ROUTED, "bergen", 100)
    place(engine, State.VERIFIED, "bergen", 5000)
    place(engine, State.ROUTED, "oslo", 100)  # past oslo's own minute
    place(engine, State.DELIVERED, "legacy", 5000)  # its receipts prove nothing: never overdue
    place(engine, State.ROUTED, "legacy", 5000)


def held_and_dead(engine: Engine) -> None:
    place(engine, State.HELD, None, 10)
    for _ in range(2):
        place(engine, State.DEAD_LETTERED, "bergen", 10, DeadLetterKind.EXHAUSTED)
    place(engine, State.DEAD_LETTERED, "bergen", 10, DeadLetterKind.MISSING)


def breakers(engine: Engine) -> None:
    breaker(engine, "bergen", 30)
    breaker(engine, "oslo", -5)


def outbox_and_beats(engine: Engine) -> None:
    unpublished(engine, 40)
    unpublished(engine, 10)
    beat(engine, "scheduler-1@host", "scheduler", 12)
    beat(engine, "worker-7@host", "worker", 3)
    beat(engine, "worker-7@host", "worker", 1, queue="route")


CASES = {
    "an empty ledger shows every routed recipient at 0": Case(
        nothing,
        {
            ("relay_reports", ("VERIFIED", "bergen")): 0,
            ("relay_reports", ("RECEIVED", "")): 0,
            ("relay_oldest_unverified_seconds", ("oslo",)): 0,
            ("relay_overdue_reports", ("bergen",)): 0,
            ("relay_held_reports", ("",)): 0,
            ("relay_dead_letters", ("bergen", "rejected")): 0,
            ("relay_breaker_open", ("oslo",)): 0,
            ("relay_in_flight_deliveries", ("bergen",)): 0,
            ("relay_outbox_unpublished", ()): 0,
            ("relay_outbox_oldest_seconds", ()): 0,
        },
    ),
    "reports are counted by state and recipient": Case(
        by_state,
        {
            ("relay_reports", ("VERIFIED", "bergen")): 2,
            ("relay_reports", ("DELIVERING", "bergen")): 1,
            ("relay_reports", ("AWAITING_RECEIPT", "oslo")): 1,
            ("relay_reports", ("RECEIVED", "")): 1,
            ("relay_in_flight_deliveries", ("bergen",)): 1,
            ("relay_in_flight_deliveries", ("oslo",)): 1,
        },
    ),
    "the oldest unverified skips verified and resolved reports": Case(
        oldest,
        {
            ("relay_oldest_unverified_seconds", ("bergen",)): 300,
            ("relay_oldest_unverified_seconds", ("oslo",)): 0,
        },
    ),
    "overdue follows each recipient's limit, and never a legacy DELIVERED": Case(
        overdue,
        {
            ("relay_overdue_reports", ("bergen",)): 2,
            ("relay_overdue_reports", ("oslo",)): 1,
            ("relay_overdue_reports", ("legacy",)): 1,
            ("relay_reports", ("DELIVERED", "legacy")): 1,
        },
        limits=OverdueLimits(3600, {"oslo": 60}, frozenset({"legacy"})),
    ),
    "held and dead-lettered reports, by reason": Case(
        held_and_dead,
        {
            ("relay_held_reports", ("",)): 1,
            ("relay_held_reports", ("bergen",)): 0,
            ("relay_dead_letters", ("bergen", "exhausted")): 2,
            ("relay_dead_letters", ("bergen", "missing")): 1,
            ("relay_dead_letters", ("bergen", "content-mismatch")): 0,
            ("relay_dead_letters", ("oslo", "exhausted")): 0,
        },
    ),
    "a breaker counts as open until its time is up (then half-open)": Case(
        breakers,
        {("relay_breaker_open", ("bergen",)): 1, ("relay_breaker_open", ("oslo",)): 0},
    ),
    "the outbox backlog and each process's own heartbeat": Case(
        outbox_and_beats,
        {
            ("relay_outbox_unpublished", ()): 2,
            ("relay_outbox_oldest_seconds", ()): 40,
            ("relay_heartbeat_age_seconds", ("scheduler", "scheduler-1@host")): 12,
            ("relay_heartbeat_age_seconds", ("worker", "worker-7@host")): 3,
        },
    ),
}


def collector(engine: Engine, limits: OverdueLimits, routes: tuple[str, ...]) -> LedgerCollector:
    return LedgerCollector(
        lambda: UnitOfWork(engine),
        limits=lambda: limits,
        recipients=lambda: routes,
        now=lambda: NOW,
    )


def scrape(source: LedgerCollector) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in source.collect()
        for sample in family.samples
    }


def sample(samples: Samples, name: str, labels: dict[str, str]) -> float | None:
    return samples.get((name, frozenset(labels.items())))


LABELS = {
    "relay_reports": ("state", "recipient"),
    "relay_dead_letters": ("recipient", "reason"),
    "relay_heartbeat_age_seconds": ("role", "process"),
    "relay_outbox_unpublished": (),
    "relay_outbox_oldest_seconds": (),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_ledger_gauges_show_what_the_ledger_holds(ledger_engine: Engine, case: Case) -> None:
    case.setup(ledger_engine)
    routes = (*ROUTES, "legacy") if case.limits.unverifiable else ROUTES
    samples = scrape(collector(ledger_engine, case.limits, routes))
    for (name, values), expected in case.expected.items():
        labels = dict(zip(LABELS.get(name, ("recipient",)), values, strict=True))
        assert sample(samples, name, labels) == pytest.approx(expected), (name, labels)
    scrape_seconds = sample(samples, "relay_ledger_scrape_seconds", {})
    assert scrape_seconds is not None
    assert 0 < scrape_seconds < 5


def test_heartbeat_rows_of_queues_are_not_processes(ledger_engine: Engine) -> None:
    outbox_and_beats(ledger_engine)
    samples = scrape(collector(ledger_engine, OverdueLimits(3600), ROUTES))
    beats = [labels for name, labels in samples if name == "relay_heartbeat_age_seconds"]
    assert len(beats) == 2


def test_a_ledger_that_cannot_be_reached_leaves_its_gauges_out() -> None:
    engine = create_ledger_engine("postgresql+psycopg://nobody@127.0.0.1:9/none", pooled=False)
    try:
        assert scrape(collector(engine, OverdueLimits(3600), ROUTES)) == {}
    finally:
        engine.dispose()


QUERIES = {
    "oldest unverified": lambda: summary.oldest_unfinished(),
    "overdue": lambda: summary.overdue(OverdueLimits(3600, {"oslo": 60}), NOW),
}


@pytest.mark.parametrize("build", QUERIES.values(), ids=QUERIES.keys())
def test_unfinished_reports_are_read_through_their_partial_index(
    ledger_engine: Engine, build: Callable[[], ClauseElement]
) -> None:
    """The queries name the index's own predicate, so the planner may use it (on PostgreSQL
    with sequential scans off: a small table would be scanned anyway)."""
    query = build()
    with ledger_engine.connect() as connection:
        if ledger_engine.dialect.name == "postgresql":
            compiled = query.compile(dialect=connection.dialect)
            connection.execute(text("SET enable_seqscan = off"))
            rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
            plan = [str(row[0]) for row in rows]
        else:
            literal = query.compile(connection, compile_kwargs={"literal_binds": True})
            plan = [
                str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {literal}"))
            ]
    assert any("ix_reports_unfinished" in line for line in plan), plan
