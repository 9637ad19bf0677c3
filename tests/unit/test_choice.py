"""An operator's choice of recipient for a HELD report: checked against the report's numbers
and decided with a routes table, as the worker that acts on it decides."""

from __future__ import annotations

from dataclasses import replace

import pytest

from router.choice import Choice, check_choice, decide, places
from router.registry import default_registry
from router.resolve import Decision, Held, Routed
from tests.unit.test_resolve import table_of

REGISTRY = default_registry()
TABLE = replace(
    table_of(
        {
            "alesund": ["1508"],  # 1507 Ålesund was split in 2024 into 1508 and 1580
            "haram": ["1580"],
            "bergen": ["4601"],
            "bergen-fana": ["4601-03", "4601-06"],
            "tromso": ["5501"],
        }
    ),
    sha256="a" * 64,
)


def routed(recipient: str, kommunenummer: str, bydelsnummer: str | None = None) -> Routed:
    return Routed(recipient, "rest-json", kommunenummer, bydelsnummer)


@pytest.mark.parametrize(
    ("numbers", "choice", "expected"),
    [
        # A split number: either part's recipient, with the part it serves.
        (("1507", None), Choice("alesund"), routed("alesund", "1508")),
        (("1507", None), Choice("haram"), routed("haram", "1580")),
        (("1504", None), Choice("haram"), routed("haram", "1580")),  # 1504 became 1507
        # Held for no route, or routed by bydel: today's number's recipients.
        (("1201", "05"), Choice("bergen"), routed("bergen", "4601")),
        (("4601", "06"), Choice("bergen-fana"), routed("bergen-fana", "4601", "06")),
        (("4601", "05"), Choice("bergen-fana"), routed("bergen-fana", "4601", "03")),
        # Forced: anywhere the table has, with the number the report carried.
        (("1507", None), Choice("tromso", force=True), routed("tromso", "1507")),
        (("2100", None), Choice("tromso", force=True), routed("tromso", "2100")),
        (("1507", None), Choice("alesund", force=True), routed("alesund", "1508")),
        # No choice: the routes decide, as for any report.
        (("1201", None), Choice(), routed("bergen", "4601")),
        (
            ("1507", None),
            Choice(),
            Held("kommunenummer 1507 was split in 2024 into 1508 and 1580; choose the recipient"),
        ),
    ],
)
def test_a_choice_the_report_allows_is_routed_there(
    numbers: tuple[str, str | None], choice: Choice, expected: Decision
) -> None:
    assert decide(*numbers, choice, REGISTRY, TABLE) == expected


@pytest.mark.parametrize(
    ("kommunenummer", "choice", "reason"),
    [
        ("1507", Choice("bergen"), "bergen serves none of 1508 and 1580 (where kommunenummer 1507"),
        ("1201", Choice("tromso"), "tromso serves none of 4601"),
        ("2100", Choice("tromso"), "kommunenummer 2100 is no municipality today"),
        ("9999", Choice("tromso"), "kommunenummer 9999 is no municipality today"),
        (
            "1507",
            Choice("molde"),
            f"recipient molde, chosen by the operator, is not in the routes table in force"
            f" (sha256 {'a' * 64})",
        ),
        ("1507", Choice("molde", force=True), "recipient molde, chosen by the operator"),
    ],
)
def test_a_choice_the_report_does_not_allow_keeps_it_held_with_the_reason(
    kommunenummer: str, choice: Choice, reason: str
) -> None:
    decision = decide(kommunenummer, None, choice, REGISTRY, TABLE)
    assert isinstance(decision, Held)
    assert decision.reason.startswith(reason)


def test_the_check_before_recording_names_what_is_wrong() -> None:
    recipients = TABLE.recipients
    assert check_choice("1507", "haram", recipients, REGISTRY, force=False) is None
    assert check_choice("1507", "nobody", recipients, REGISTRY, force=True) == (
        "no recipient nobody in the routes table"
    )
    assert check_choice("2100", "tromso", recipients, REGISTRY, force=True) is None


def test_the_places_a_report_may_belong_to_today() -> None:
    assert places("1507", REGISTRY) == ("1508", "1580")
    assert places("1201", REGISTRY) == ("4601",)
    assert places("9999", REGISTRY) == ()


def test_a_choice_survives_the_ledger_detail_it_is_recorded_in() -> None:
    for choice in (Choice(), Choice("haram"), Choice("tromso", force=True)):
        assert Choice.from_detail(choice.as_detail()) == choice
    assert Choice.from_detail({"note": "x"}) is None
    assert Choice.from_detail(None) is None
