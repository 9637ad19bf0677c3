"""The SQLite ledger's writers in one process queue on a lock before BEGIN IMMEDIATE
(`ledger.sqlite_writer`): handed on at every commit, rollback or close, so that no thread
sleeps in SQLite's busy handler while the file is free, and none is left holding it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from ledger.database import create_ledger_engine

pytestmark = pytest.mark.integration


def engine_on(path: Path, busy_timeout: float = 5.0) -> Engine:
    engine = create_ledger_engine(f"sqlite:///{path}", busy_timeout=busy_timeout)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS counts (n INTEGER)"))
    return engine


@pytest.mark.parametrize("ending", ["commit", "rollback", "close", "error"])
def test_the_write_lock_is_handed_on_however_a_transaction_ends(
    tmp_path: Path, ending: str
) -> None:
    engine = engine_on(tmp_path / "ledger.sqlite", busy_timeout=1.0)
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(text("INSERT INTO counts VALUES (1)"))
    if ending == "commit":
        transaction.commit()
    elif ending == "rollback":
        transaction.rollback()
    elif ending == "error":
        with pytest.raises(OperationalError):
            connection.execute(text("INSERT INTO no_such_table VALUES (1)"))
        transaction.rollback()
    connection.close()
    started = time.monotonic()
    with engine.begin() as other:  # would wait out the 1 s timeout, then fail, if still held
        other.execute(text("INSERT INTO counts VALUES (2)"))
    assert time.monotonic() - started < 0.5
    engine.dispose()


def test_every_engine_on_one_file_shares_the_queue(tmp_path: Path) -> None:
    first, second = engine_on(tmp_path / "ledger.sqlite"), engine_on(tmp_path / "ledger.sqlite")
    order: list[str] = []
    with first.begin() as connection:
        connection.execute(text("INSERT INTO counts VALUES (1)"))

        def other() -> None:
            with second.begin() as late:
                order.append("second")
                late.execute(text("INSERT INTO counts VALUES (2)"))

        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.2)
        order.append("first commits")
    thread.join(timeout=10)
    assert order == ["first commits", "second"]
    first.dispose()
    second.dispose()


def test_many_threads_write_without_waiting_in_the_busy_handler(tmp_path: Path) -> None:
    engine = engine_on(tmp_path / "ledger.sqlite")
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(25):
                with engine.begin() as connection:
                    connection.execute(text("INSERT INTO counts VALUES (1)"))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM counts")).scalar_one() == 400
    engine.dispose()
