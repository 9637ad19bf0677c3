"""The ledger on real databases: lifecycle enforced, history append-only and hash-chained."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import DatabaseError

from ledger import queries, schema
from ledger.chain import first_break
from ledger.database import create_ledger_engine
from ledger.errors import ConcurrentChange
from ledger.lifecycle import IllegalTransition, State
from ledger.migrate import upgrade
from ledger.records import Move, NewReport, RecipientHealth, Report, StateKind
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from tests.support.ledger import TEST_KEYS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def add_report(engine: Engine) -> str:
    report_id = str(uuid.uuid4())
    with UnitOfWork(engine, TEST_KEYS) as uow:
        uow.reports.add(
            NewReport(
                report_id, "portal", "no.ks.fiks.bekymringsmelding.privat.v2", "4601", "02", T0
            ),
            b'{"kommunenummer":"4601"}',
            actor="intake:portal",
            dispatch=ROUTE,
        )
        uow.commit()
    return report_id


def test_accepting_writes_report_transition_and_outbox_row_together(ledger_engine: Engine) -> None:
    report_id = add_report(ledger_engine)
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
        history = uow.reports.history(report_id)
        outbox = uow.outbox.unpublished()
    assert report is not None
    assert report.state is State.RECEIVED
    assert [(t.from_state, t.to_state) for t in history] == [(None, State.RECEIVED)]
    assert [(m.report_id, m.task, m.queue) for m in outbox] == [(report_id, "route", "route")]


def test_an_illegal_transition_is_refused_and_writes_nothing(ledger_engine: Engine) -> None:
    report_id = add_report(ledger_engine)
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id, lock=True)
        assert report is not None
        with pytest.raises(IllegalTransition):
            uow.reports.move(report, State.VERIFIED, at=T0, actor="test")
        uow.commit()
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
        assert report is not None
        assert report.state is State.RECEIVED
        assert len(uow.reports.history(report_id)) == 1


def test_a_rolled_back_unit_of_work_leaves_no_trace(ledger_engine: Engine) -> None:
    report_id = add_report(ledger_engine)
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id, lock=True)
        assert report is not None
        uow.reports.move(report, State.HELD, at=T0, actor="test", reason="no route")
        # leaves without commit
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
        assert report is not None
        assert report.state is State.RECEIVED
        assert uow.outbox.count(report_id) == 1


def test_several_moves_are_recorded_as_each_would_be_in_one_statement(
    ledger_engine: Engine,
) -> None:
    """Routed and parked at once: each transition in the chain, every change applied, the
    last move's reason and kind kept; one statement on PostgreSQL (a round trip each)."""
    report_id = add_report(ledger_engine)
    statements: list[str] = []
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id, lock=True)
        assert report is not None
        routed = Move(State.ROUTED, detail={"by": "test"}, changes={"recipient": "bergen"})
        parked = Move(
            State.RETRY_SCHEDULED,
            "waiting",
            StateKind.WAITING,
            changes={"next_attempt_at": T0},
        )

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(ledger_engine, "before_cursor_execute", count)
        try:
            moved = uow.reports.move_through(report, (routed, parked), at=T0, actor="router")
        finally:
            event.remove(ledger_engine, "before_cursor_execute", count)
        uow.commit()
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        stored = uow.reports.get(report_id)
        history = uow.reports.history(report_id)
    assert stored == moved
    assert (moved.state, moved.recipient, moved.next_attempt_at) == (
        State.RETRY_SCHEDULED,
        "bergen",
        T0,
    )
    assert (moved.state_reason, moved.state_kind) == ("waiting", StateKind.WAITING)
    assert [(t.from_state, t.to_state, t.reason, t.detail) for t in history[1:]] == [
        (State.RECEIVED, State.ROUTED, None, {"by": "test"}),
        (State.ROUTED, State.RETRY_SCHEDULED, "waiting", None),
    ]
    assert first_break(history) is None
    assert (moved.last_sequence, moved.last_hash) == (history[-1].sequence, history[-1].hash)
    assert len(statements) == (1 if ledger_engine.dialect.name == "postgresql" else 3)


def test_a_move_reads_its_recipients_health_in_the_same_statement(ledger_engine: Engine) -> None:
    """An attempt's outcome is recorded with its recipient's health read beside it: healthy
    for a recipient never seen, the stored row otherwise, nothing locked; a report that moved
    since it was read is not written."""
    first, second = add_report(ledger_engine), add_report(ledger_engine)
    opened = RecipientHealth("bergen", consecutive_failures=2, opens=1, last_error="503")

    def routed(report_id: str) -> Report:
        with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
            report = uow.reports.get(report_id, lock=True)
            assert report is not None
            moved = uow.reports.move(
                report, State.ROUTED, at=T0, actor="test", changes={"recipient": "bergen"}
            )
            uow.commit()
            return moved

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    report = routed(first)
    event.listen(ledger_engine, "before_cursor_execute", count)
    try:
        with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
            moved, health = uow.reports.move_reading_health(
                report, Move(State.DELIVERING), at=T0, actor="test"
            )
            uow.commit()
    finally:
        event.remove(ledger_engine, "before_cursor_execute", count)
    assert (moved.state, moved.last_sequence, health) == (
        State.DELIVERING,
        3,
        RecipientHealth("bergen"),
    )
    if ledger_engine.dialect.name == "postgresql":
        assert len(statements) == 1

    report = routed(second)
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        uow.health.get("bergen", lock=True)  # its row
        uow.health.save(opened)
        uow.commit()
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        moved, health = uow.reports.move_reading_health(
            report, Move(State.DELIVERING), at=T0, actor="test"
        )
        with pytest.raises(ConcurrentChange):  # the same read again: it has moved
            uow.reports.move_reading_health(report, Move(State.DELIVERING), at=T0, actor="test")
        uow.commit()
    assert health == opened
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        assert [t.to_state for t in uow.reports.history(second)] == [
            State.RECEIVED,
            State.ROUTED,
            State.DELIVERING,
        ]


def _generic_plan(engine: Engine, statement: Any, values: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL's generic plan for `statement` (the plan a prepared statement keeps, made
    without its parameters' values), as EXPLAIN's JSON."""
    expanded = statement.compile(dialect=engine.dialect).construct_expanded_state(values)
    names: list[str] = []

    def numbered(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", numbered, expanded.statement)
    with engine.connect() as connection:
        connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        connection.exec_driver_sql(f"PREPARE asked AS {sql}")
        arguments = ", ".join(f"'{expanded.parameters[name]}'" for name in names)
        plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) EXECUTE asked({arguments})")
        return cast("dict[str, Any]", plan.scalar_one()[0]["Plan"])


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize(
    "statement",
    [
        queries._count_for_recipient(("ROUTED", "DELIVERING")),
        queries._routing_room(("ROUTED", "DELIVERING")),
        queries._ready_to_release(("ROUTED", "DELIVERING"), False),
        queries._ready_to_release(("ROUTED", "DELIVERING"), True),
    ],
    ids=["count", "routing room", "release", "release going on"],
)
def test_counting_a_recipients_reports_in_flight_reads_only_those(
    postgres_url: str, statement: Any
) -> None:
    """Every count of a recipient's reports in some states finds them by recipient and state
    in the index, in the plan a prepared statement keeps: one that matched the recipient
    and filtered the state read all 10,000 rows of a recipient's backlog at each
    settlement while it drained. (PostgreSQL's plans: SQLite keeps none across calls.)"""
    engine = create_ledger_engine(postgres_url)
    upgrade(engine)
    now = datetime.now(UTC)
    try:
        plan = _generic_plan(
            engine, statement, {"recipient": "oslo", "now": now, "since": now, "limit": 8}
        )
    finally:
        engine.dispose()
    counts = [
        node for node in _nodes(plan) if node.get("Index Name") == "ix_reports_recipient_state"
    ]
    assert counts, "no count by the (recipient, state) index"
    for node in counts:
        assert "Filter" not in node, node
        assert "state" in node["Index Cond"], node


def test_a_move_through_an_illegal_step_writes_nothing(ledger_engine: Engine) -> None:
    report_id = add_report(ledger_engine)
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id, lock=True)
        assert report is not None
        with pytest.raises(IllegalTransition):
            uow.reports.move_through(
                report, (Move(State.ROUTED), Move(State.VERIFIED)), at=T0, actor="test"
            )
        uow.commit()
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        assert len(uow.reports.history(report_id)) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE transitions SET actor = 'someone else'",
        "DELETE FROM transitions",
    ],
)
def test_the_database_refuses_to_edit_history(ledger_engine: Engine, statement: str) -> None:
    add_report(ledger_engine)
    with pytest.raises(DatabaseError, match="append-only"), ledger_engine.begin() as connection:
        connection.execute(text(statement))


def test_history_is_hash_chained_and_an_edit_shows(ledger_engine: Engine) -> None:
    report_id = add_report(ledger_engine)
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id, lock=True)
        assert report is not None
        report = uow.reports.move(report, State.HELD, at=T0 + timedelta(seconds=1), actor="router")
        uow.reports.move(report, State.ROUTED, at=T0 + timedelta(seconds=2), actor="operator:kari")
        uow.commit()
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        history = uow.reports.history(report_id)
    links = history
    assert first_break(links) is None
    tampered = [links[0], replace(links[1], actor="nobody"), links[2]]
    assert first_break(tampered) == 2


def test_outbox_rows_are_marked_published(ledger_engine: Engine) -> None:
    report_id = add_report(ledger_engine)
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        [message] = uow.outbox.unpublished()
        uow.outbox.mark_published([message.id], T0)
        uow.commit()
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        assert uow.outbox.unpublished() == []
    with ledger_engine.connect() as connection:
        published = connection.execute(
            select(schema.outbox.c.published_at).where(schema.outbox.c.report_id == report_id)
        ).scalar_one()
    assert published == T0
