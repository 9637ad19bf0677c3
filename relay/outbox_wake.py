"""Waking the outbox relay the moment a row commits, instead of at its next poll.

In one process (`relay run`, or a scheduler whose own jobs write rows) the unit of work sets
an event after such a commit. Across processes PostgreSQL's `NOTIFY relay_outbox` (migration
0010) does it: `OutboxListener` holds one connection that LISTENs and sets the same event.
A lost connection only costs speed: the relay still polls, and the listener reconnects.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy.engine import make_url

from ledger.database import CONNECT_TIMEOUT_SECONDS
from ledger.outbox import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

WAIT_SECONDS = 1.0  # how often the listener looks at its stop flag
RECONNECT_SECONDS = (1.0, 2.0, 5.0)


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL (`postgresql+psycopg://…`) as psycopg's own connection string."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class OutboxListener:
    """LISTENs on the outbox channel and sets `wake` for every notification (and once on
    each (re)connect, for rows committed while it was not listening)."""

    def __init__(self, database_url: str, wake: threading.Event) -> None:
        self._conninfo = libpq_url(database_url)
        self._wake = wake
        self.should_stop = False

    def run(self) -> None:
        failures = 0
        while not self.should_stop:
            try:
                self._listen()
                failures = 0
            except psycopg.Error as error:
                pause = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                if failures == 0:
                    log.warning(
                        "outbox listener lost its connection (%s); polling until it is back",
                        type(error).__name__,
                    )
                failures += 1
                threading.Event().wait(pause)

    def _listen(self) -> None:
        with psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as connection:
            connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
            self._wake.set()
            while not self.should_stop:
                for _ in connection.notifies(timeout=WAIT_SECONDS):
                    self._wake.set()
