"""The pipeline as the broker sees it: which task runs on which queue.

A state change that hands a report to the next stage records a `Dispatch` in the outbox;
the outbox relay publishes it as the Celery task `task_name(dispatch.task)` on
`dispatch.queue`; workers consume `queues_for(vendors)`. Every queue and task name is
spelled here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.lifecycle import State
from ledger.records import Dispatch

ROUTE_QUEUE = "route"
TASK_PREFIX = "relay."

ROUTE = Dispatch(task="route", queue=ROUTE_QUEUE)


def deliver_dispatch(vendor: str) -> Dispatch:
    """Deliveries go to one queue per vendor, so one vendor's trouble cannot block another's."""
    return Dispatch(task="deliver", queue=f"deliver.{vendor}")


def task_name(task: str) -> str:
    """The Celery task name for an outbox row's `task`."""
    return TASK_PREFIX + task


ROUTE_TASK = task_name(ROUTE.task)
DELIVER_TASK = task_name("deliver")
HEARTBEAT_TASK = task_name("heartbeat")  # sent by the scheduler, not through the outbox


# The states in which each stage takes a report: a message for a report in any other state
# finds it moved on and does nothing (`router.stage`, `deliverers.stage`). Every move into
# one of these states writes its own message.
TAKEN_IN: dict[str, frozenset[State]] = {
    ROUTE.task: frozenset({State.RECEIVED, State.HELD}),
    "deliver": frozenset({State.ROUTED}),
}


def still_wanted(task: str, report_state: str | None) -> bool:
    """Would a message for `task` still find its report where that stage takes it?"""
    states = TAKEN_IN.get(task)
    return states is None or report_state is None or report_state in states


def queues_for(vendors: Iterable[str]) -> list[str]:
    """Every queue a worker for these vendors consumes: routing, then each vendor's."""
    return [ROUTE_QUEUE, *(deliver_dispatch(vendor).queue for vendor in sorted(vendors))]
