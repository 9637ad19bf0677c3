from __future__ import annotations

import pytest

from ledger.lifecycle import IllegalTransition, State, allowed_from, check_transition

ALLOWED = [
    (None, State.RECEIVED),
    (State.RECEIVED, State.ROUTED),
    (State.RECEIVED, State.HELD),
    (State.HELD, State.ROUTED),
    (State.ROUTED, State.DELIVERING),
    (State.DELIVERING, State.DELIVERED),
    (State.DELIVERING, State.AWAITING_RECEIPT),
    (State.AWAITING_RECEIPT, State.DELIVERED),
    (State.DELIVERING, State.ROUTED),
    (State.ROUTED, State.RETRY_SCHEDULED),
    (State.DELIVERING, State.RETRY_SCHEDULED),
    (State.RETRY_SCHEDULED, State.ROUTED),
    (State.ROUTED, State.DEAD_LETTERED),
    (State.DELIVERED, State.VERIFIED),
    (State.DELIVERED, State.MISSING),
    (State.VERIFIED, State.MISSING),
    (State.MISSING, State.ROUTED),
    (State.DEAD_LETTERED, State.ROUTED),
    (State.DEAD_LETTERED, State.RESOLVED_MANUALLY),
    (State.HELD, State.RESOLVED_MANUALLY),  # handled outside the pipeline
    (State.VERIFIED, State.VERIFIED),  # its content erased
    (State.RESOLVED_MANUALLY, State.RESOLVED_MANUALLY),  # its content erased
]

REFUSED = [
    (None, State.ROUTED),
    (State.RECEIVED, State.DELIVERED),
    (State.RECEIVED, State.VERIFIED),
    (State.HELD, State.DELIVERED),
    (State.ROUTED, State.VERIFIED),
    (State.ROUTED, State.DELIVERED),
    (State.AWAITING_RECEIPT, State.ROUTED),
    (State.RETRY_SCHEDULED, State.DELIVERED),
    (State.DELIVERED, State.ROUTED),
    (State.VERIFIED, State.DELIVERED),
    (State.VERIFIED, State.DEAD_LETTERED),
    (State.RESOLVED_MANUALLY, State.ROUTED),
    (State.RECEIVED, State.RESOLVED_MANUALLY),
    (State.DEAD_LETTERED, State.DEAD_LETTERED),
    (State.DELIVERED, State.DELIVERED),
]


@pytest.mark.parametrize(("origin", "target"), ALLOWED)
def test_allowed_transition_passes(origin: State | None, target: State) -> None:
    check_transition("r1", origin, target)


@pytest.mark.parametrize(("origin", "target"), REFUSED)
def test_illegal_transition_is_refused(origin: State | None, target: State) -> None:
    with pytest.raises(IllegalTransition) as raised:
        check_transition("r1", origin, target)
    assert raised.value.report_id == "r1"
    assert "r1" in str(raised.value)


def test_every_non_terminal_state_can_be_dead_lettered_or_moves_on() -> None:
    for state in State:
        if state in (State.RESOLVED_MANUALLY, State.VERIFIED, State.DEAD_LETTERED):
            continue
        assert State.DEAD_LETTERED in allowed_from(state), state


def test_resolved_manually_is_terminal_but_for_the_erasure_of_its_content() -> None:
    assert allowed_from(State.RESOLVED_MANUALLY) == frozenset({State.RESOLVED_MANUALLY})


def test_only_final_states_move_to_themselves_for_an_erasure_and_held_alone_otherwise() -> None:
    to_itself = {state for state in State if state in allowed_from(state)}
    assert to_itself == {State.VERIFIED, State.RESOLVED_MANUALLY, State.HELD}
