"""A report named by a unique prefix of its id (at least 8 characters), or by its whole id."""

from __future__ import annotations

import pytest

from ledger.report_ids import ReportIdError, full_report_id

IDS = sorted(
    [
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "0f8fad5b-aaaa-469f-a165-70867728950e",
        "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "7c9e6679-7425-40de-944b-e07fc1f90ae",  # a whole id that begins another
        "aaaaaaaa-1",
        "aaaaaaaa-2",
        "aaaaaaaa-3",
        "aaaaaaaa-4",
    ]
)


def starting_with(prefix: str, limit: int) -> list[str]:
    return [report_id for report_id in IDS if report_id.startswith(prefix)][:limit]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0f8fad5b-d9", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        (" 0f8fad5b-d9 ", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("7c9e6679-7425-40de-944b-e07fc1f90ae7", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
        ("7c9e6679-7425-40de-944b-e07fc1f90ae", "7c9e6679-7425-40de-944b-e07fc1f90ae"),
    ],
)
def test_a_unique_prefix_or_a_whole_id_names_its_report(given: str, expected: str) -> None:
    assert full_report_id(given, starting_with) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("0f8fad5", "report id '0f8fad5' is too short: give at least 8 characters of it"),
        ("", "report id '' is too short: give at least 8 characters of it"),
        ("ffffffff", "no report id begins with ffffffff"),
        (
            "0f8fad5b",
            "0f8fad5b begins 2 report ids (0f8fad5b-aaaa-469f-a165-70867728950e,"
            " 0f8fad5b-d9cb-469f-a165-70867728950e): give more of the id",
        ),
        (
            "aaaaaaaa",
            "aaaaaaaa begins more than 3 report ids (aaaaaaaa-1, aaaaaaaa-2, aaaaaaaa-3, …):"
            " give more of the id",
        ),
    ],
)
def test_a_prefix_that_names_no_report_or_several_is_one_clear_line(
    given: str, message: str
) -> None:
    with pytest.raises(ReportIdError) as refused:
        full_report_id(given, starting_with)
    assert str(refused.value) == message
    assert "\n" not in str(refused.value)
