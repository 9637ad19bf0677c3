"""What the operators' commands show of a report and its history: metadata only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

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


def whole_column(table: Table, heading: str, values: Iterable[str | None]) -> None:
    """A column of report ids or recipient names, which no table may cut: as wide as its
    longest value (`print_table` folds it, never cuts it, where the terminal is too narrow)."""
    widest = max((len(value) for value in values if value), default=0)
    table.add_column(heading, overflow="fold", min_width=max(widest, len(heading)))


NARROWEST = 4  # what another column needs at least, folded


def print_table(table: Table, console: Console | None = None) -> None:
    """Print `table` with its whole columns at their full width where the terminal has room
    for them and a little of every other column; else with every column folded (rich would
    cut the table at the terminal's edge rather than narrow a column below its min_width)."""
    console = console or Console()
    needed = 1 + sum((column.min_width or NARROWEST) + 3 for column in table.columns)
    if needed > console.width:
        for column in table.columns:
            column.min_width = None
    console.print(table)
