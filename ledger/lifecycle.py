"""The report lifecycle: states and the transitions allowed between them.

Pure: no database, no clock. `check_transition` is the one gate every state change passes.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    RECEIVED = "RECEIVED"
    HELD = "HELD"
    ROUTED = "ROUTED"
    DELIVERING = "DELIVERING"  # an attempt is in flight, under a lease
    AWAITING_RECEIPT = "AWAITING_RECEIPT"  # handed to an asynchronous mailbox (fiks-io)
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    DELIVERED = "DELIVERED"
    VERIFIED = "VERIFIED"
    MISSING = "MISSING"
    DEAD_LETTERED = "DEAD_LETTERED"
    RESOLVED_MANUALLY = "RESOLVED_MANUALLY"


class IllegalTransition(Exception):
    """A state change that the lifecycle does not allow. Nothing was written."""

    def __init__(self, report_id: str, from_state: State | None, to_state: State) -> None:
        self.report_id = report_id
        self.from_state = from_state
        self.to_state = to_state
        origin = from_state.value if from_state else "(new)"
        super().__init__(f"report {report_id}: {origin} -> {to_state.value} is not allowed")


_ALLOWED: dict[State | None, frozenset[State]] = {
    None: frozenset({State.RECEIVED}),
    State.RECEIVED: frozenset({State.ROUTED, State.HELD, State.DEAD_LETTERED}),
    # HELD -> HELD records an operator's request to route it again (a recipient they chose,
    # or today's routes), and a re-route that still found no recipient, with the new reason.
    # HELD -> RESOLVED_MANUALLY: an operator handled it outside the pipeline.
    State.HELD: frozenset({State.ROUTED, State.HELD, State.DEAD_LETTERED, State.RESOLVED_MANUALLY}),
    # ROUTED -> RETRY_SCHEDULED without an attempt: waiting for an open breaker or a free slot.
    State.ROUTED: frozenset({State.DELIVERING, State.RETRY_SCHEDULED, State.DEAD_LETTERED}),
    # DELIVERING -> ROUTED: the attempt's lease ran out (worker lost); deliver again.
    State.DELIVERING: frozenset(
        {
            State.DELIVERED,
            State.AWAITING_RECEIPT,
            State.RETRY_SCHEDULED,
            State.DEAD_LETTERED,
            State.ROUTED,
        }
    ),
    State.AWAITING_RECEIPT: frozenset(
        {State.DELIVERED, State.RETRY_SCHEDULED, State.DEAD_LETTERED}
    ),
    State.RETRY_SCHEDULED: frozenset({State.ROUTED, State.DEAD_LETTERED}),
    State.DELIVERED: frozenset({State.VERIFIED, State.MISSING, State.DEAD_LETTERED}),
    # Reconciliation can find that a verified report has since vanished from the case system.
    # VERIFIED -> VERIFIED records the erasure of its content (retention); so does
    # RESOLVED_MANUALLY -> RESOLVED_MANUALLY, its only move.
    State.VERIFIED: frozenset({State.MISSING, State.VERIFIED}),
    State.MISSING: frozenset({State.ROUTED, State.HELD, State.DEAD_LETTERED}),
    State.DEAD_LETTERED: frozenset({State.ROUTED, State.HELD, State.RESOLVED_MANUALLY}),
    State.RESOLVED_MANUALLY: frozenset({State.RESOLVED_MANUALLY}),
}

# States in which an attempt is under way.
IN_FLIGHT: frozenset[State] = frozenset({State.DELIVERING, State.AWAITING_RECEIPT})
# Final states whose content retention erases after its time (a move to the same state
# records the erasure in the report's chain). Every other state keeps its content.
ERASABLE: frozenset[State] = frozenset({State.VERIFIED, State.RESOLVED_MANUALLY})
# States that count as "the case system has it".
STORED: frozenset[State] = frozenset({State.DELIVERED, State.VERIFIED})


def allowed_from(state: State | None) -> frozenset[State]:
    return _ALLOWED[state]


def check_transition(report_id: str, from_state: State | None, to_state: State) -> None:
    """Raise `IllegalTransition` unless `from_state -> to_state` is allowed."""
    if to_state not in _ALLOWED[from_state]:
        raise IllegalTransition(report_id, from_state, to_state)
