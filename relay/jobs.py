"""The periodic jobs: publish the outbox, release retries that are due, forget old keys.

Each job is one function over the ledger; the scheduler decides when they run. They are
safe to run in several scheduler processes at once (row locks, SKIP LOCKED, state checks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from ledger.lifecycle import State
from ledger.records import OutboxMessage, deliver_dispatch
from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
IDEMPOTENCY_KEY_DAYS = 7


class Publisher(Protocol):
    def publish(self, message: OutboxMessage) -> None: ...


def publish_outbox(
    uow_factory: Callable[[], UnitOfWork],
    publisher: Publisher,
    now: Callable[[], datetime],
    *,
    batch: int = 200,
) -> int:
    """Publish committed outbox rows and mark them published. At least once, by design."""
    with uow_factory() as uow:
        messages = uow.ledger.unpublished(limit=batch)
        published: list[int] = []
        try:
            for message in messages:
                publisher.publish(message)
                published.append(message.id)
        finally:
            uow.ledger.mark_published(published, now())
            uow.commit()
    return len(published)


def release_due_retries(
    uow_factory: Callable[[], UnitOfWork], now: Callable[[], datetime], *, batch: int = 500
) -> int:
    """RETRY_SCHEDULED reports whose time has come go back to ROUTED and onto their queue."""
    with uow_factory() as uow:
        due = uow.ledger.due_retries(now(), limit=batch)
    released = 0
    for report_id in due:
        with uow_factory() as uow:
            report = uow.ledger.get(report_id, lock=True)
            moment = now()
            if (
                report is None
                or report.state is not State.RETRY_SCHEDULED
                or report.next_attempt_at is None
                or report.next_attempt_at > moment
                or report.vendor is None
            ):
                continue
            uow.ledger.move(
                report,
                State.ROUTED,
                at=moment,
                actor=SCHEDULER,
                reason="retry due",
                changes={"next_attempt_at": None},
                dispatch=deliver_dispatch(report.vendor),
            )
            uow.commit()
            released += 1
    return released


def forget_old_idempotency_keys(
    uow_factory: Callable[[], UnitOfWork], now: Callable[[], datetime]
) -> int:
    with uow_factory() as uow:
        forgotten = uow.ledger.forget_keys_before(now() - timedelta(days=IDEMPOTENCY_KEY_DAYS))
        uow.commit()
    return forgotten
