"""The embedded broker (kombu's SQLAlchemy transport on a SQLite file): each message given
out once, oldest first, on kombu's own tables; a consumer with every prefetch slot taken
goes on as soon as one is done; only the messages nobody has taken are kept (the scheduler
deletes the taken ones, which kombu never reads again)."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from kombu.connection import Connection
from kombu.message import Message
from kombu.messaging import Consumer

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


def test_messages_come_out_oldest_first_each_once_to_competing_consumers(tmp_path: Path) -> None:
    url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    sent = [f"m{n}" for n in range(300)]
    with closing(broker_connection(url)) as connection, connection.SimpleQueue("q") as queue:
        for body in sent:
            queue.put(body)
    taken: list[list[str]] = [[], [], []]

    def consume(into: list[str]) -> None:
        with closing(broker_connection(url)) as connection, connection.SimpleQueue("q") as queue:
            while True:
                try:
                    message = queue.get(timeout=0.5)
                except queue.Empty:
                    return
                into.append(message.payload)
                message.ack()

    threads = [threading.Thread(target=consume, args=(into,)) for into in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [body for into in taken for body in into]
    assert sorted(everything) == sorted(sent)  # none lost, none twice
    for into in taken:
        assert into == sorted(into, key=sent.index)  # each consumer saw them in order


def test_messages_pass_between_this_transport_and_kombus_own(tmp_path: Path) -> None:
    """The same tables as kombu's SQLAlchemy transport: a broker file written by either is
    read by the other (a message waiting across an upgrade is not lost)."""
    path = tmp_path / "broker.sqlite"
    ours, kombus = broker_connection(f"sqla+sqlite:///{path}"), Connection(f"sqla+sqlite:///{path}")
    try:
        with ours.SimpleQueue("q") as mine, kombus.SimpleQueue("q") as theirs:
            mine.put({"from": "ours"})
            theirs.put({"from": "kombu"})
            first, second = theirs.get(timeout=5), mine.get(timeout=5)
            assert (first.payload, second.payload) == ({"from": "ours"}, {"from": "kombu"})
            first.ack()
            second.ack()
            assert rows(path) == 2
            assert forget_taken_messages(f"sqla+sqlite:///{path}") == 2
    finally:
        ours.release()
        kombus.release()


def test_a_consumer_whose_prefetch_is_full_takes_the_next_message_when_one_is_done(
    tmp_path: Path,
) -> None:
    """kombu sleeps its polling interval (here 30 s) after a poll that brought nothing,
    also when nothing came because every prefetch slot was taken; acknowledging a message
    ends that wait."""
    url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    connection = broker_connection(url, polling_interval=30)
    try:
        with connection.SimpleQueue("q") as queue:
            queue.put("first")
            queue.put("second")
            received: list[Message] = []
            consumer = Consumer(
                connection.channel(), [queue.queue], callbacks=[lambda _, m: received.append(m)]
            )
            consumer.qos(prefetch_count=1)
            with consumer:
                connection.drain_events(timeout=5)
                assert [m.payload for m in received] == ["first"]
                acked = threading.Timer(0.2, received[0].ack)
                acked.start()
                started = time.monotonic()
                connection.drain_events(timeout=20)  # kombu's own: back after 20 s
                assert [m.payload for m in received] == ["first", "second"]
                assert time.monotonic() - started < 10
                acked.join()
    finally:
        connection.release()
