"""The embedded broker (kombu's SQLAlchemy transport on a SQLite file) keeps only the
messages nobody has taken: the scheduler deletes the taken ones, which kombu never reads
again."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from relay.broker import broker_connection, forget_taken_messages


def rows(path: Path) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return int(connection.execute("SELECT count(*) FROM kombu_message").fetchone()[0])


def test_taken_messages_are_deleted_and_waiting_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "broker.sqlite"
    url = f"sqla+sqlite:///{path}"
    assert forget_taken_messages(url) == 0  # no file, no table yet: nothing to do
    connection = broker_connection(url)
    try:
        with connection.SimpleQueue("route") as queue:
            for n in range(3):
                queue.put(f"m{n}")
            for _ in range(2):
                queue.get(timeout=5).ack()
            assert rows(path) == 3  # kombu keeps what it gave out
            assert forget_taken_messages(url) == 2
            assert rows(path) == 1
            assert queue.get(timeout=5).payload == "m2"  # the waiting one is still there
    finally:
        connection.release()


def test_other_brokers_have_nothing_to_delete() -> None:
    assert forget_taken_messages("redis://127.0.0.1:6379/0") == 0
    assert forget_taken_messages("amqp://guest:guest@127.0.0.1:5672//") == 0
