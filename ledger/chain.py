"""The per-report hash chain over transitions, so that an edited or removed row shows.

Each transition's hash covers the previous transition's hash and the transition's own
fields, in a canonical JSON form. Pure functions; the clock and the rows come in as values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.digest import sha256_hex
from ledger.records import Transition

GENESIS = "0" * 64


def link_hash(
    previous_hash: str,
    report_id: str,
    sequence: int,
    from_state: str | None,
    to_state: str,
    at: datetime,
    actor: str,
    reason: str | None,
    detail: Mapping[str, Any] | None,
) -> str:
    canonical = json.dumps(
        [
            previous_hash,
            report_id,
            sequence,
            from_state,
            to_state,
            at.isoformat(timespec="microseconds"),
            actor,
            reason,
            dict(detail) if detail else None,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return sha256_hex(canonical.encode("ascii"))


def transition_hash(transition: Transition) -> str:
    """What `transition.hash` must be, given its fields and its `previous_hash`."""
    return link_hash(
        transition.previous_hash,
        transition.report_id,
        transition.sequence,
        transition.from_state.value if transition.from_state else None,
        transition.to_state.value,
        transition.at,
        transition.actor,
        transition.reason,
        transition.detail,
    )


def first_break(transitions: Iterable[Transition]) -> int | None:
    """The sequence number of the first transition that does not fit the chain, or None."""
    expected_previous = GENESIS
    expected_sequence = 1
    for transition in transitions:
        if (
            transition.sequence != expected_sequence
            or transition.previous_hash != expected_previous
            or transition.hash != transition_hash(transition)
        ):
            return transition.sequence
        expected_previous = transition.hash
        expected_sequence += 1
    return None


@dataclass(frozen=True)
class ChainBreak:
    """Where a report's chain stops holding, and why (for the operator who must look)."""

    report_id: str
    sequence: int
    reason: str


def chain_break(
    report_id: str, transitions: Sequence[Transition], last_sequence: int, last_hash: str
) -> ChainBreak | None:
    """The first place where `transitions` (in sequence order) is not an intact chain
    ending at the report's recorded head (`last_sequence`, `last_hash`); None if intact.

    `first_break` finds an edited or removed link; the head finds a removed last link, which
    leaves a shorter chain that is intact in itself."""
    broken = first_break(transitions)
    if broken is not None:
        link = next(t for t in transitions if t.sequence == broken)
        expected = transitions.index(link) + 1
        if broken != expected:
            return ChainBreak(report_id, expected, f"transition {expected} is missing")
        if link.hash != transition_hash(link):
            return ChainBreak(report_id, broken, "its fields do not match its hash (edited)")
        return ChainBreak(report_id, broken, "it does not link to the transition before it")
    if not transitions:
        return ChainBreak(report_id, 1, "the report has no transitions")
    head = transitions[-1]
    if head.sequence != last_sequence or head.hash != last_hash:
        after = head.sequence + 1
        if head.sequence < last_sequence:
            return ChainBreak(report_id, after, f"transition {after} is missing (the last)")
        return ChainBreak(
            report_id, head.sequence, "the report's recorded head is not its last transition"
        )
    return None
