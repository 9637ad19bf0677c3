"""Routing along takes RECEIVED reports in turns between municipalities (`in_turns`)."""

from __future__ import annotations

import pytest

from ledger.reports import in_turns

# (municipality, received at, id): the times are plain numbers here; the ledger's are datetimes.
BURST = [("4601", n, f"b{n}") for n in range(5)]


@pytest.mark.parametrize(
    ("rows", "limit", "expected"),
    [
        ([], 16, []),
        (BURST, 3, ["b0", "b1", "b2"]),
        # Oslo's one report, received after Bergen's burst, goes in the first turn.
        ([*BURST, ("0301", 10, "o0")], 3, ["b0", "o0", "b1"]),
        # Each turn oldest first, whatever order the rows came in.
        ([("0301", 10, "o1"), ("0301", 7, "o0"), ("4601", 8, "b0")], 16, ["o0", "b0", "o1"]),
        # Three municipalities, two turns each, limit cuts the second turn.
        (
            [
                *[("0301", 3, "o0"), ("0301", 4, "o1"), ("4601", 1, "b0"), ("4601", 2, "b1")],
                *[("5001", 5, "t0"), ("5001", 6, "t1")],
            ],
            4,
            ["b0", "o0", "t0", "b1"],
        ),
        # Equal times: the id decides, so the order never depends on the database's.
        ([("0301", 1, "z"), ("4601", 1, "a")], 16, ["a", "z"]),
    ],
)
def test_reports_are_taken_in_turns(
    rows: list[tuple[str, int, str]], limit: int, expected: list[str]
) -> None:
    assert in_turns(rows, limit) == expected
