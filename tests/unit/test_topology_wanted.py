"""Which outbox messages are still worth sending: a table of cases."""

from __future__ import annotations

import pytest

from ledger.lifecycle import State
from ledger.topology import ROUTE, deliver_dispatch, still_wanted

DELIVER = deliver_dispatch("rest-json").task


@pytest.mark.parametrize(
    ("task", "state", "wanted"),
    [
        (ROUTE.task, State.RECEIVED, True),
        (ROUTE.task, State.HELD, True),  # an operator's request to route it again
        (ROUTE.task, State.ROUTED, False),  # routed along by a worker already
        (ROUTE.task, State.RETRY_SCHEDULED, False),  # routed, and waiting for room
        (DELIVER, State.ROUTED, True),
        (DELIVER, State.RETRY_SCHEDULED, False),  # parked; its release writes a new message
        (DELIVER, State.DELIVERED, False),
        ("heartbeat", State.VERIFIED, True),  # not a stage's message: always sent
        (ROUTE.task, None, True),  # no report found: the stage decides
    ],
)
def test_a_message_is_sent_only_while_its_stage_would_take_the_report(
    task: str, state: State | None, wanted: bool
) -> None:
    assert still_wanted(task, state) is wanted
