"""Engines for the ledger: PostgreSQL in production, SQLite (WAL, full sync) embedded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from ledger.sqlite_writer import connection_class, queued_to_write, writer_lock

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5
# Connections a pool keeps open once made (more are made when needed, and closed after):
# as many as the intake API uses at once (`intake.api.LEDGER_THREADS`).
POOL_SIZE = 10


# SQLSTATE 25006: a read-only transaction, as on a standby during a failover.
READ_ONLY_SQLSTATE = "25006"


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means "cannot commit right now" (try again), not a bug."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    return (
        isinstance(error, DBAPIError)
        and getattr(error.orig, "sqlstate", None) == READ_ONLY_SQLSTATE
    )


def lost_connection(error: BaseException) -> bool:
    """Whether a database error means the connection was found dead (a restarted server):
    SQLAlchemy has dropped it and every pooled connection as old, so a new try gets a new
    connection."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def once_more_if_lost(work: Callable[[], T]) -> T:
    """`work` (one transaction), tried once more if its connection was found dead, for an
    engine without pre-ping. Only for work that recognises its own committed effect on a
    second try (a stage that finds its report moved on does nothing): a connection lost
    during COMMIT leaves it unknown whether the first try committed."""
    try:
        return work()
    except DBAPIError as error:
        if not lost_connection(error):
            raise
        log.warning("the ledger's connection was lost (%s); trying once more", type(error).__name__)
        return work()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_ledger_engine(
    url: str,
    *,
    busy_timeout: float = SQLITE_BUSY_TIMEOUT_SECONDS,
    pooled: bool = True,
    pre_ping: bool = True,
) -> Engine:
    """An engine whose transactions are safe for the ledger on the given backend.

    On SQLite every transaction starts with BEGIN IMMEDIATE, so writers queue on the
    busy timeout instead of failing when a read transaction tries to become a write; the
    threads of one process queue on a lock before that (`ledger.sqlite_writer`).
    On PostgreSQL a connection attempt gives up after CONNECT_TIMEOUT_SECONDS, and a
    connection is checked before use (a restarted server leaves dead ones in the pool).
    `pooled=False` opens a connection per transaction: for a watchdog thread in a process
    that forks, which must not leave pooled connections to its children. `pre_ping=False`
    saves that check's round trip on every transaction; its user must then try once more
    when an error says the connection was lost (`lost_connection`), as intake does.
    """
    pool: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if not is_sqlite(url):
        if pooled:
            pool.update(pool_pre_ping=pre_ping, pool_size=POOL_SIZE, max_overflow=10)
        return create_engine(
            url,
            hide_parameters=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            **pool,
        )

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    factory = connection_class(writer_lock(database or ""), busy_timeout)
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout, "check_same_thread": False, "factory": factory},
        hide_parameters=True,  # parameters hold report content; never put them in errors
        **pool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")  # erased content is overwritten, not freed
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Queued behind this process's other writers first (`ledger.sqlite_writer`).
        with queued_to_write(connection.connection.dbapi_connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
