"""The per-report hash chain over transitions, so that an edited or removed row shows.

Each transition's hash covers the previous transition's hash and the transition's own
fields, in a canonical JSON form. Pure functions; the clock and the rows come in as values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class Link:
    report_id: str
    sequence: int
    from_state: str | None
    to_state: str
    at: datetime
    actor: str
    reason: str | None
    detail: Mapping[str, Any] | None
    previous_hash: str
    hash: str


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
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def first_break(links: Iterable[Link]) -> int | None:
    """The sequence number of the first link that does not fit the chain, or None if intact."""
    expected_previous = GENESIS
    expected_sequence = 1
    for link in links:
        recomputed = link_hash(
            link.previous_hash,
            link.report_id,
            link.sequence,
            link.from_state,
            link.to_state,
            link.at,
            link.actor,
            link.reason,
            link.detail,
        )
        if (
            link.sequence != expected_sequence
            or link.previous_hash != expected_previous
            or link.hash != recomputed
        ):
            return link.sequence
        expected_previous = link.hash
        expected_sequence += 1
    return None
