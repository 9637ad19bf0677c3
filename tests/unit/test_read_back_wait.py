"""When the read-back lane looks again (`deliverers.proof.read_back_wait`): a table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from deliverers.proof import read_back_wait
from tests.support.clock import T0


@pytest.mark.parametrize(
    ("due_in", "shortest", "longest", "wait"),
    [
        pytest.param(0.35, 0.1, 1.0, 0.35, id="at-the-next-due-time"),
        pytest.param(30.0, 0.1, 1.0, 1.0, id="at-least-every-tick"),
        pytest.param(0.03, 0.1, 1.0, 0.1, id="not-one-pass-a-delivery"),
        pytest.param(0.0, 0.1, 1.0, 0.1, id="due-now"),
        pytest.param(-2.0, 0.1, 1.0, 0.1, id="overdue-after-a-slow-pass"),
        pytest.param(0.5, 0.1, 0.2, 0.2, id="a-short-tick"),
        pytest.param(0.5, 0.05, 0.05, 0.05, id="a-tick-shorter-than-the-gap"),
    ],
)
def test_the_lane_looks_again_when_the_next_delivery_comes_due(
    due_in: float, shortest: float, longest: float, wait: float
) -> None:
    next_due = T0 + timedelta(seconds=due_in)
    assert read_back_wait(next_due, T0, shortest, longest) == pytest.approx(wait)
