"""Noticing within seconds that a recipient whose breaker is open is back, without spending
any report's attempts.

While a breaker is open, a scheduler job asks each such recipient every `check_seconds`
(`BreakerPolicy`) whether it answers at all. The question is the vendor's listing request
for reports received from now on (rest-json: `GET /bekymringsmeldinger?mottatt_fra=<now>`,
which the contract allows, authenticated as the route says, and which stores nothing). Any
answer from the case system counts (a refusal too: it is up); a timeout, a refused
connection or a 5xx does not. fiks-io has no such question: its mailbox is our own broker,
which says nothing about the case system behind it, so its breaker keeps the timed probe.

What a check means for the breaker is `deliverers.breaker.after_check` (pure). When it
half-opens the breaker, the probe is released in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from deliverers.base import Deliverer, DeliveryError, TransientError
from deliverers.breaker import after_check, check_due
from deliverers.control import DeliveryControl
from deliverers.fiks_io import Unsupported
from deliverers.release import release_waiting
from ledger.uow import UnitOfWork

CHECKER = "scheduler"


def answers(deliverer: Deliverer, now: datetime) -> bool | None:
    """Does the case system answer? None: its protocol has no way to ask."""
    try:
        deliverer.list_since(now)
    except Unsupported:
        return None
    except TransientError:
        return False
    except DeliveryError:
        return True  # it answered, if only to refuse
    return True


def check_open_breakers(
    uow_factory: Callable[[], UnitOfWork],
    now: Callable[[], datetime],
    control_for: Callable[[str], DeliveryControl],
    deliverer_for: Callable[[str], Deliverer | None],
) -> int:
    """Check each recipient whose breaker is open and whose check is due; record what it
    said and release its probe if it is back. Returns how many reports were released."""
    with uow_factory() as uow:
        moment = now()
        due = [
            health.recipient
            for health in uow.health.all()
            if check_due(health, control_for(health.recipient).breaker, moment)
        ]
    released = 0
    for recipient in due:
        deliverer = deliverer_for(recipient)
        if deliverer is None:
            continue
        answered = answers(deliverer, now())  # no transaction open while we wait on it
        if answered is None:
            continue
        control = control_for(recipient)
        with uow_factory() as uow:
            health = uow.health.get(recipient, lock=True)
            moment = now()
            checked = after_check(health, control.breaker, moment, answered=answered)
            if checked != health:
                uow.health.save(checked)
            released += release_waiting(uow, recipient, control, moment, actor=CHECKER)
            uow.commit()
    return released
