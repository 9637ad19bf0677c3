"""What the operators' commands show of a report and its history: metadata only."""

from __future__ import annotations

from typing import Any

from ledger.clock import rfc3339
from ledger.records import Report, Transition

ATTEMPT_DETAIL = ("attempt", "status_code", "error", "duration_ms")


def transition_view(transition: Transition) -> dict[str, Any]:
    return {
        "sequence": transition.sequence,
        "from": transition.from_state.value if transition.from_state else None,
        "to": transition.to_state.value,
        "at": rfc3339(transition.at),
        "actor": transition.actor,
        "reason": transition.reason,
        "detail": transition.detail,
    }


def attempt_view(transition: Transition) -> dict[str, Any]:
    """A transition with its attempt's outcome (number, status code, error, duration)."""
    view = transition_view(transition)
    detail = dict(view.pop("detail") or {})
    return {**view, **{key: detail[key] for key in ATTEMPT_DETAIL if key in detail}}


def dead_letter_view(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "recipient": report.recipient,
        "kommunenummer": report.kommunenummer or report.submitted_kommunenummer,
        "kind": report.state_kind,
        "reason": report.state_reason,
        "attempts": report.attempts,
        "dead_lettered_at": rfc3339(report.updated_at),
    }
