"""The transactional outbox: rows written with a state change, published after it commits.

`publish_outbox` hands committed rows to the broker (at least once, by design);
`sweep_stalled` writes a new row for a report whose message the broker may have lost.
Both are jobs the scheduler runs; the stages ignore a message for a report that has moved
on, so publishing twice is harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, bindparam, func, select, update

from ledger import schema
from ledger.lifecycle import State
from ledger.records import Dispatch, OutboxMessage, Report, StateKind
from ledger.steps import each_locked
from ledger.topology import ROUTE, deliver_dispatch, still_wanted

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

# PostgreSQL notifies this channel when an outbox row commits (migration 0010).
OUTBOX_CHANNEL = "relay_outbox"


# Built once (SQLAlchemy compiles it once per engine): the ids are one expanding parameter.
_MARK_PUBLISHED = (
    update(schema.outbox)
    .where(schema.outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("at", type_=schema.outbox.c.published_at.type))
)


class OutboxStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self.written = False  # whether this transaction wrote a row (see UnitOfWork.commit)

    def dispatch(self, report_id: str, dispatch: Dispatch, at: datetime) -> None:
        self.written = True
        self._db.execute(
            schema.outbox.insert().values(
                report_id=report_id,
                task=dispatch.task,
                queue=dispatch.queue,
                created_at=at,
                publish_attempts=0,
            )
        )

    def unpublished(self, *, limit: int = 100) -> list[OutboxMessage]:
        """The unsent rows (skipping those another relay holds), each with its report's
        state as of now: deliveries first, then routing, each oldest first. A burst's route
        messages are many, and each delivery (of a report already routed, its recipient's
        share bounded by `deliverers.release`) would otherwise wait behind all of them."""
        outbox = schema.outbox
        rows = self._db.execute(
            select(outbox, schema.reports.c.state.label("report_state"))
            .select_from(outbox.outerjoin(schema.reports))
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.task == ROUTE.task, outbox.c.id)
            .limit(limit)
            .with_for_update(of=outbox, skip_locked=True)
        ).mappings()
        return [
            OutboxMessage(
                id=row["id"],
                report_id=row["report_id"],
                task=row["task"],
                queue=row["queue"],
                report_state=row["report_state"],
            )
            for row in rows
        ]

    def mark_published(self, message_ids: Sequence[int], at: datetime) -> None:
        if message_ids:
            self._db.execute(_MARK_PUBLISHED, {"ids": list(message_ids), "at": at})

    def count(self, report_id: str | None = None) -> int:
        query = select(func.count()).select_from(schema.outbox)
        if report_id is not None:
            query = query.where(schema.outbox.c.report_id == report_id)
        return int(self._db.execute(query).scalar_one())


class Publisher(Protocol):
    def publish(self, message: OutboxMessage) -> None: ...


def publish_outbox(
    uow_factory: Callable[[], UnitOfWork],
    publisher: Publisher,
    now: Callable[[], datetime],
    *,
    batch: int = 200,
    route_every: int = 1,
    route_gate: RouteGate | None = None,
) -> int:
    """Publish committed outbox rows and mark them published. At least once, by design.
    Returns how many were marked.

    `route_every`: of the route messages of reports still RECEIVED, send only the first and
    every `route_every`-th after it, when the worker that takes one routes that many more
    along with its own report (`router.stage.route_received_in_turn`). The others stay in
    the outbox, unmarked: the next pass finds their reports routed and marks them unsent,
    or sends them then. A burst then costs the broker and the workers one task per
    `route_every` reports instead of one each, and no report waits for a message longer
    than one pass. `route_gate`: and only once the gate is open (`RouteGate`); while it is
    shut, none of them.

    The rows stay locked while they are sent, so that two outbox relays do not send the
    same rows. Not where a transaction holds the ledger's only write lock (SQLite): there
    the rows are read in one transaction, sent, and marked in another, or every stage would
    wait for the broker (a SQLite broker takes milliseconds a message). A row sent and not
    marked (the process stopped between) is sent again: harmless, the stages check state.
    """
    with uow_factory() as uow:
        messages = uow.outbox.unpublished(limit=batch)
        if not uow.one_writer:

            def mark_here(ids: list[int]) -> None:
                uow.outbox.mark_published(ids, now())
                uow.commit()

            return _send(messages, publisher, mark_here, route_every, route_gate)

    def mark_after(ids: list[int]) -> None:
        if ids:
            with uow_factory() as marking:
                marking.outbox.mark_published(ids, now())
                marking.commit()

    return _send(messages, publisher, mark_after, route_every, route_gate)


class RouteGate:
    """Spaces the route messages of reports still RECEIVED, `gap_seconds` apart at least.

    The task that takes one routes the reports received meanwhile along with its own, for up
    to a second (`relay.bootstrap.Container.route`). Sent one a pass, as fast as commits wake
    the relay, a burst's messages each found their report routed already: a task, a broker
    round and a relay pass each, for nothing (measured: one a report). A report received
    while the gate is shut and not routed along waits for its message at most until the gate
    opens (`opens_at`), when its relay passes again."""

    def __init__(self, gap_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.gap_seconds = gap_seconds
        self._clock = clock
        self.opens_at = 0.0
        self.held_back = False  # a route message asked for waits for the gate (this pass)

    def shut(self) -> bool:
        """Whether a route message must wait now; if not, the gate shuts behind it."""
        moment = self._clock()
        self.held_back = moment < self.opens_at
        if not self.held_back:
            self.opens_at = moment + self.gap_seconds
        return self.held_back


def _send(
    messages: list[OutboxMessage],
    publisher: Publisher,
    mark: Callable[[list[int]], None],
    route_every: int,
    route_gate: RouteGate | None = None,
) -> int:
    """Send `messages` in order; `mark` those sent, even when one fails (which is raised).
    A message whose report has already moved past its stage (a burst's reports routed along
    by a worker before their own route messages went out) is marked, not sent: it would do
    nothing but cost the broker and a worker a task. Of the route messages of RECEIVED
    reports only every `route_every`-th is sent; the rest are left unmarked."""
    published: list[int] = []
    to_route = 0
    try:
        for message in messages:
            if still_wanted(message.task, message.report_state):
                if message.task == ROUTE.task and message.report_state == State.RECEIVED.value:
                    to_route += 1
                    if (to_route - 1) % route_every:
                        continue  # routed along by the one sent before it, or sent next pass
                    if route_gate is not None and route_gate.shut():
                        continue  # routed along by the one sent last, or sent once it opens
                publisher.publish(message)
            published.append(message.id)
    finally:
        mark(published)
    return len(published)


def sweep_stalled(
    uow_factory: Callable[[], UnitOfWork],
    now: Callable[[], datetime],
    sweep_after_seconds: float,
) -> int:
    """A report waiting for a stage that has not moved for too long is published to that
    stage again: the broker may have lost the message (flush, failover, a killed worker
    holding it unacknowledged). Publishing twice is harmless; the stages check state."""
    cutoff = now() - timedelta(seconds=sweep_after_seconds)
    with uow_factory() as uow:
        stalled = uow.queries.stalled([State.RECEIVED, State.ROUTED], cutoff)
        stalled += uow.queries.stalled(
            [State.HELD], cutoff, kind=StateKind.REROUTE_REQUESTED
        )  # an operator's request no worker has acted on

    def republish(uow: UnitOfWork, report: Report) -> bool:
        if report.updated_at >= cutoff:
            return False
        if report.state is State.RECEIVED or (
            report.state is State.HELD and report.state_kind == StateKind.REROUTE_REQUESTED
        ):
            dispatch = ROUTE
        elif report.state is State.ROUTED and report.vendor is not None:
            dispatch = deliver_dispatch(report.vendor)
        else:
            return False
        uow.outbox.dispatch(report.id, dispatch, now())
        return True

    swept = each_locked(uow_factory, stalled, republish)
    if swept:
        log.warning("swept %d stalled reports back onto their queues", swept)
    return swept
