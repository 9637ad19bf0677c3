"""Broker connection settings for each supported transport.

- `sqla+sqlite:///…` (embedded default): kombu's SQLAlchemy transport, polled every 0.1 s;
  a consumer whose prefetch is full polls again as soon as one of its messages is done.
- `redis://…`: visibility timeout well above the task time limit; optional key prefix.
  `rediss://…` checks the server's certificate (the system's CAs, or `SSL_CERT_FILE`),
  where kombu alone would accept any.
- `amqp://…` (RabbitMQ): publisher confirms.
"""

from __future__ import annotations

import json
import sqlite3
import ssl
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from kombu.connection import Connection
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.transport import virtual
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

EMBEDDED_PREFIX = "sqla+"
EMBEDDED_POLL_SECONDS = 0.1
REDIS_VISIBILITY_TIMEOUT_SECONDS = 3600
REDIS_SOCKET_TIMEOUT_SECONDS = 10  # above kombu's BRPOP wait (1 s): a quiet queue is no error
REDIS_HEALTH_CHECK_SECONDS = 10  # PING a connection idle this long before using it
CONNECT_TIMEOUT_SECONDS = 5
# A message in kombu's own table and columns (kombu.transport.sqlalchemy.models), as its
# ORM mapping writes one.
_PUT = "INSERT INTO kombu_message (visible, payload, version, queue_id) VALUES (1, ?, 1, ?)"
_KOMBU_ONLY_OPTIONS = (
    "polling_interval",
    "queue_tablename",
    "message_tablename",
    "callback",
    "errback",
    "max_retries",
    "interval_start",
    "interval_step",
    "interval_max",
    "retry_errors",
)


class EmbeddedChannel(kombu_sqlalchemy.Channel):
    """kombu's SQLAlchemy channel on its own tables, a message put by one statement (kombu's
    own: an ORM query for the queue's row, then the message through the ORM session, a
    tenth of `relay run`'s time under load), taken as kombu takes it."""

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self._queue_ids: dict[str, int] = {}

    def _engine_from_config(self) -> Engine:
        options = dict(self.connection.client.transport_options)
        for name in _KOMBU_ONLY_OPTIONS:
            options.pop(name, None)
        return create_engine(self.connection.client.hostname, **options)

    def _queue_id(self, queue: str) -> int:
        """The queue's row (created if new, as kombu does), looked up once a channel: kombu
        never deletes one."""
        known = self._queue_ids.get(queue)
        if known is None:
            known = self._queue_ids[queue] = self._get_or_create(queue).id
            self.session.commit()
        return known

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        queue_id = self._queue_id(queue)
        with self.session.bind.begin() as connection:
            connection.exec_driver_sql(_PUT, (json.dumps(payload), queue_id))

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self.connection.slot_freed()

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue)
        self.connection.slot_freed()


class EmbeddedTransport(kombu_sqlalchemy.Transport):
    """kombu's SQLAlchemy transport, polling faster than its 1 s default, and at once when
    a message it gave out is done.

    kombu's virtual transports sleep the polling interval whenever a poll brings nothing,
    also when it brought nothing because every prefetch slot is taken: a worker whose tasks
    take 50 ms then waits up to 100 ms for each next message, its threads idle meanwhile.
    Here that wait ends when an acknowledgement (or rejection) frees a slot."""

    Channel = EmbeddedChannel
    polling_interval = EMBEDDED_POLL_SECONDS

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._freed = threading.Event()

    def slot_freed(self) -> None:
        self._freed.set()

    def drain_events(self, connection: Any, timeout: float | None = None, **kwargs: Any) -> None:
        """As kombu's, but the wait after a poll that brought nothing ends early when a slot
        is freed (`slot_freed`)."""
        assert self.cycle is not None
        started = time.monotonic()
        while True:
            self._freed.clear()  # a slot freed from here on ends the wait below
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except virtual.Empty:
                wait = self.polling_interval
                if timeout is not None:
                    left = timeout - (time.monotonic() - started)
                    if left <= 0:
                        raise TimeoutError() from None
                    wait = min(wait, left)
                self._freed.wait(wait)


def celery_broker_config(broker_url: str, key_prefix: str | None = None) -> dict[str, Any]:
    if broker_url.startswith(EMBEDDED_PREFIX):
        database_url = broker_url[len(EMBEDDED_PREFIX) :]
        _prepare_sqlite_broker(database_url)
        return {
            "broker_url": database_url,
            "broker_transport": f"{__name__}:EmbeddedTransport",
            "broker_transport_options": {"connect_args": {"timeout": 30}},
        }
    if broker_url.startswith(("redis://", "rediss://", "redis+socket://")):
        options: dict[str, Any] = {
            "visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS,
            # Bounded waits: a broker that does not answer is an error, never a hang.
            "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
            "socket_keepalive": True,
            "health_check_interval": REDIS_HEALTH_CHECK_SECONDS,
        }
        if key_prefix:
            options["global_keyprefix"] = key_prefix
        config = {"broker_url": broker_url, "broker_transport_options": options}
        if broker_url.startswith("rediss://"):
            config["broker_use_ssl"] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
        return config
    if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return {
            "broker_url": broker_url,
            "broker_transport_options": {"confirm_publish": True},
            "broker_connection_timeout": CONNECT_TIMEOUT_SECONDS,
        }
    raise ValueError(
        "RELAY_BROKER_URL must start with sqla+sqlite://, redis:// or amqp:// "
        f"(got {broker_url.split('://')[0]}://…)"
    )


def _prepare_sqlite_broker(database_url: str) -> None:
    """WAL mode is a property of the file; set it once so readers never block the writer."""
    path = _sqlite_file(database_url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path, timeout=30) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def forget_taken_messages(broker_url: str) -> int:
    """Delete the messages the embedded broker's consumers have taken; how many.

    kombu's SQLAlchemy transport marks a message it hands to a consumer invisible and never
    reads or deletes it again (an acknowledgement touches only the consumer's memory), so
    the broker file would grow by every message ever sent. A taken message that was never
    done is not lost by this: kombu would not have given it out again either, and the
    ledger sends it again (`ledger.outbox.sweep_stalled`). Other brokers: nothing to do."""
    if not broker_url.startswith(EMBEDDED_PREFIX):
        return 0
    path = _sqlite_file(broker_url.removeprefix(EMBEDDED_PREFIX))
    if path is None:
        return 0
    with closing(sqlite3.connect(path, timeout=30)) as connection, connection:
        try:
            deleted = connection.execute("DELETE FROM kombu_message WHERE visible = 0")
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):  # nothing was ever sent
                return 0
            raise
        return deleted.rowcount


def _sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL; None for another database or an in-memory one."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def broker_connection(
    broker_url: str, key_prefix: str | None = None, **transport_options: Any
) -> Connection:
    """A kombu connection configured like Celery's (transport, options, key prefix, TLS);
    `transport_options` override the transport's."""
    config = celery_broker_config(broker_url, key_prefix)
    return Connection(
        config["broker_url"],
        transport=config.get("broker_transport"),
        transport_options={**config.get("broker_transport_options", {}), **transport_options},
        ssl=config.get("broker_use_ssl", False),
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
    )


def connect_once(broker_url: str, key_prefix: str | None = None) -> None:
    """Connect to the broker once, within the connect timeout, and let go; raises the
    transport's error when it does not answer. The socket timeout bounds a TLS handshake
    with a server that does not speak TLS."""
    connection = broker_connection(broker_url, key_prefix, socket_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        connection.ensure_connection(max_retries=0)
    finally:
        connection.release()
