"""The outbox relay is woken when an outbox row commits, not at its next poll: by the unit
of work in the same process, and by PostgreSQL's NOTIFY from any other."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from ledger.database import create_ledger_engine
from ledger.migrate import upgrade
from ledger.records import NewReport
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from relay.outbox_wake import OutboxListener
from tests.support.clock import T0
from tests.support.ledger import TEST_KEYS

pytestmark = pytest.mark.integration

QUIET = 0.3  # long enough for a notification that should not come to have come
ARRIVES = 5.0  # a notification that should come comes within this


def add_report(uow: UnitOfWork) -> None:
    uow.reports.add(
        NewReport(
            str(uuid.uuid4()), "portal", "no.ks.fiks.bekymringsmelding.privat.v2", "4601", None, T0
        ),
        b"{}",
        actor="intake:portal",
        dispatch=ROUTE,
    )


def test_a_commit_that_writes_outbox_rows_wakes_its_process(ledger_engine: Engine) -> None:
    woken = threading.Event()
    with UnitOfWork(ledger_engine, TEST_KEYS, on_outbox=woken.set) as uow:
        add_report(uow)
        assert not woken.is_set()  # not before the commit: the relay would find nothing
        uow.commit()
    assert woken.is_set()


def test_a_commit_without_outbox_rows_or_a_rollback_wakes_nobody(ledger_engine: Engine) -> None:
    woken = threading.Event()
    with UnitOfWork(ledger_engine, TEST_KEYS, on_outbox=woken.set) as uow:
        uow.outbox.count()
        uow.commit()
    with UnitOfWork(ledger_engine, TEST_KEYS, on_outbox=woken.set) as uow:
        add_report(uow)  # left without commit: rolled back
    assert not woken.is_set()


@pytest.fixture
def listening(postgres_url: str) -> Iterator[tuple[Engine, threading.Event]]:
    engine = create_ledger_engine(postgres_url)
    upgrade(engine)
    woken = threading.Event()
    listener = OutboxListener(postgres_url, woken)
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    assert woken.wait(ARRIVES), "the listener sets the event once when it starts listening"
    woken.clear()
    yield engine, woken
    listener.should_stop = True
    thread.join(timeout=5)
    engine.dispose()
    assert not thread.is_alive()


def test_postgresql_notifies_another_process_when_an_outbox_row_commits(
    listening: tuple[Engine, threading.Event],
) -> None:
    engine, woken = listening
    with UnitOfWork(engine, TEST_KEYS) as uow:  # as another process would: no callback
        add_report(uow)
        assert not woken.wait(QUIET), "NOTIFY is delivered at commit, not before"
        uow.commit()
    assert woken.wait(ARRIVES)


def test_the_listener_comes_back_after_its_connection_is_killed(
    listening: tuple[Engine, threading.Event], postgres_url: str
) -> None:
    engine, woken = listening
    admin = create_engine(postgres_url)
    with admin.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        ).scalar_one()
    admin.dispose()
    assert killed == 1
    assert woken.wait(ARRIVES + 5), "on reconnecting it wakes the relay (rows may be waiting)"
    woken.clear()
    with UnitOfWork(engine, TEST_KEYS) as uow:
        add_report(uow)
        uow.commit()
    assert woken.wait(ARRIVES)
