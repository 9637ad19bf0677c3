"""The per-report hash chain over transitions, so that an edited or removed row shows.

Each transition's hash covers the previous transition's hash and the transition's own
fields, in a canonical JSON form. Pure functions; the clock and the rows come in as values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
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
