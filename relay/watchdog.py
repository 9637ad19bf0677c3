"""A worker's watchdog: notices when the worker has stopped taking messages from the broker,
though it lives on (a Celery worker after a Redis restart can: celery#9054, #8030), and
makes it exit so that its supervisor starts a new one (`relay run` restarts its consumer).

`check` is the pure decision. The worker counts every message it takes (`received`); the
scheduler sends a heartbeat through every queue at a short interval and records that in the
ledger. While heartbeats are being sent, a worker that took no message for longer than the
stall limit is wedged. While none are sent (no scheduler, no broker) nobody can tell, and
nothing happens. The ledger, not the worker's own view, says whether messages are coming.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from ledger.database import create_ledger_engine
from ledger.heartbeats import PROCESS, Beat
from ledger.uow import UnitOfWork
from router.live import RoutesInForce

log = logging.getLogger(__name__)

SENDING_WITHIN_BEATS = 3  # heartbeats count as being sent if the last was this many ago

RoutesSource = Callable[[], RoutesInForce | None]  # which routes table a process has in force


def no_routes() -> RoutesInForce | None:
    return None


@dataclass(frozen=True)
class Wedged:
    reason: str


@dataclass(frozen=True)
class Watch:
    """What the watchdog remembers between checks: since when (monotonic seconds) it has
    seen heartbeats being sent without a break."""

    sending_since: float | None = None


def check(
    watch: Watch,
    *,
    now: float,
    last_received: float,
    heartbeats_sent_ago: float | None,
    heartbeat_seconds: float,
    stall_seconds: float,
) -> tuple[Watch, Wedged | None]:
    """Wedged when heartbeats have been sent for longer than `stall_seconds` and the worker
    took no message in that time. Times are monotonic seconds; `heartbeats_sent_ago` is how
    long ago the scheduler last sent them (None: never)."""
    sending = (
        heartbeats_sent_ago is not None
        and heartbeats_sent_ago <= SENDING_WITHIN_BEATS * heartbeat_seconds
    )
    if not sending:
        return Watch(), None
    since = now if watch.sending_since is None else watch.sending_since
    idle = now - max(last_received, since)
    if idle <= stall_seconds:
        return Watch(since), None
    return Watch(since), Wedged(
        f"took no message from the broker for {idle:.0f} s while heartbeats were sent"
        f" through its queues every {heartbeat_seconds:g} s"
    )


@dataclass(frozen=True)
class Identity:
    process_id: str
    role: str
    hostname: str
    pid: int
    started_at: datetime

    def beat(
        self, moment: datetime, routes: RoutesInForce | None, consumed_at: datetime | None = None
    ) -> Beat:
        """This process's own heartbeat row: alive at `moment`, with its routes table."""
        return Beat(
            self.process_id,
            PROCESS,
            self.role,
            self.hostname,
            self.pid,
            self.started_at,
            moment,
            consumed_at,
            routes.sha256 if routes else None,
            routes.loaded_at if routes else None,
        )


def identity(role: str, now: datetime) -> Identity:
    host, pid = socket.gethostname(), os.getpid()
    return Identity(f"{role}-{pid}@{host}", role, host, pid, now)


class Watchdog:
    """Runs `check` every few seconds in a thread of the worker's main process."""

    def __init__(
        self,
        me: Identity,
        *,
        database_url: str,
        heartbeat_seconds: float,
        stall_seconds: float,
        on_wedged: Callable[[Wedged], None],
        now: Callable[[], datetime],
        clock: Callable[[], float] = time.monotonic,
        routes: RoutesSource = no_routes,
    ) -> None:
        self.me = me
        self._routes = routes
        self._database_url = database_url
        self._heartbeat_seconds = heartbeat_seconds
        self._stall_seconds = stall_seconds
        self._on_wedged = on_wedged
        self._now = now
        self._clock = clock
        self._last_received = clock()
        self._last_received_at: datetime | None = None
        self.stop = threading.Event()

    def received(self) -> None:
        """The worker took a message from the broker (any task, heartbeat or report)."""
        self._last_received = self._clock()
        self._last_received_at = self._now()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True, name="watchdog")
        thread.start()
        return thread

    def _run(self) -> None:
        engine = create_ledger_engine(self._database_url, pooled=False)
        watch = Watch()
        interval = min(self._heartbeat_seconds, 5.0)
        try:
            while not self.stop.wait(interval):
                try:
                    sent_ago = self._record_and_read(engine)
                except Exception as error:  # the ledger is unreachable: nobody can tell
                    log.warning("watchdog cannot read the ledger (%s)", type(error).__name__)
                    continue
                watch, wedged = check(
                    watch,
                    now=self._clock(),
                    last_received=self._last_received,
                    heartbeats_sent_ago=sent_ago,
                    heartbeat_seconds=self._heartbeat_seconds,
                    stall_seconds=self._stall_seconds,
                )
                if wedged is not None:
                    log.critical(
                        "worker %s is wedged: %s",
                        self.me.process_id,
                        wedged.reason,
                        extra={"event": "worker-wedged", "worker": self.me.process_id},
                    )
                    self._on_wedged(wedged)
                    return
        finally:
            engine.dispose()

    def _record_and_read(self, engine: Engine) -> float | None:
        """Record this worker's sign of life; how long ago heartbeats were last sent."""
        moment = self._now()
        me = self.me
        with UnitOfWork(engine) as uow:
            uow.heartbeats.beat(me.beat(moment, self._routes(), self._last_received_at))
            sent = uow.heartbeats.last("scheduler")
            uow.commit()
        if sent is None:
            return None
        return max((moment - sent) / timedelta(seconds=1), 0.0)


def send_heartbeats(
    uow_factory: Callable[[], UnitOfWork],
    send: Callable[[str, str], None],
    queues: list[str],
    me: Identity,
    now: Callable[[], datetime],
    routes: RoutesSource = no_routes,
) -> int:
    """The scheduler's job: a heartbeat task through every queue the workers consume, then
    its own row saying when. A send that fails (broker down) records nothing, so workers
    are not judged while no heartbeat can reach them."""
    moment = now()
    for queue in queues:
        send(queue, moment.isoformat())
    with uow_factory() as uow:
        uow.heartbeats.beat(me.beat(moment, routes()))
        uow.commit()
    return len(queues)
