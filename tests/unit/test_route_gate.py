"""The outbox relay's gate for route messages of reports still RECEIVED: one, then none until
`gap_seconds` have passed since it."""

from __future__ import annotations

import pytest

from ledger.outbox import RouteGate


@pytest.mark.parametrize(
    ("asked_at", "shut"),
    [
        ([0.0], [False]),  # the first goes
        ([0.0, 0.05], [False, True]),  # too soon after it
        ([0.0, 0.1], [False, False]),  # the gap has passed
        ([0.0, 0.05, 0.1, 0.15], [False, True, False, True]),  # held back ones do not shut it
        ([0.0, 0.09, 0.09, 0.2], [False, True, True, False]),
    ],
)
def test_a_route_message_waits_for_the_gap_after_the_last_sent(
    asked_at: list[float], shut: list[bool]
) -> None:
    moment = [0.0]
    gate = RouteGate(0.1, clock=lambda: moment[0])
    answers = []
    for at in asked_at:
        moment[0] = at
        answers.append(gate.shut())
        assert gate.held_back is answers[-1]
    assert answers == shut
    assert gate.opens_at == pytest.approx(
        max(a for a, s in zip(asked_at, shut, strict=True) if not s) + 0.1
    )
