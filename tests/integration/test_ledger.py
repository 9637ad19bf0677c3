"""The ledger on real databases: lifecycle enforced, history append-only and hash-chained."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError

from ledger import schema
from ledger.chain import first_break
from ledger.lifecycle import IllegalTransition, State
from ledger.records import NewReport
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
