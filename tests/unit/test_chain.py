from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ledger.chain import GENESIS, first_break, link_hash
from ledger.lifecycle import State
from ledger.records import Transition

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def chain(steps: list[tuple[State | None, State]]) -> list[Transition]:
    links = []
    previous = GENESIS
    for sequence, (origin, target) in enumerate(steps, start=1):
        at = T0 + timedelta(seconds=sequence)
        digest = link_hash(
            previous, "r1", sequence, origin, target, at, "actor", None, {"n": sequence}
        )
        links.append(
            Transition(
                "r1", sequence, origin, target, at, "actor", None, {"n": sequence}, previous, digest
            )
        )
        previous = digest
    return links


STEPS: list[tuple[State | None, State]] = [
    (None, State.RECEIVED),
    (State.RECEIVED, State.ROUTED),
    (State.ROUTED, State.DELIVERED),
]


def test_an_untouched_chain_is_intact() -> None:
    assert first_break(chain(STEPS)) is None


def test_an_edited_field_breaks_the_chain_at_that_link() -> None:
    links = chain(STEPS)
    links[1] = replace(links[1], to_state=State.HELD)
    assert first_break(links) == 2


def test_a_removed_link_breaks_the_chain() -> None:
    links = chain(STEPS)
    assert first_break([links[0], links[2]]) == 3


def test_a_rewritten_detail_breaks_the_chain() -> None:
    links = chain(STEPS)
    links[2] = replace(links[2], detail={"n": 99})
    assert first_break(links) == 3
