"""Route resolution: numbers from any era, bydeler, and every reason to hold a report."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.registry import default_registry
from router.resolve import Decision, Held, Routed, resolve
from router.routes import RecipientEntry, RouteTable, build_table

REGISTRY = default_registry()

OSLO = {
    "oslo-sentrum": ["01", "02", "03", "04", "16"],
    "oslo-vest": ["05", "06", "07", "08", "17"],
    "oslo-nord": ["09", "10", "11", "12"],
    "oslo-sor": ["13", "14", "15"],
}
SERVES = {
    **{recipient: [f"0301-{bydel}" for bydel in bydeler] for recipient, bydeler in OSLO.items()},
    "bergen-bergenhus": ["4601-02", "4601-07"],
    "bergen-nord": ["4601-01", "4601-08"],
    "bergen-fana": ["4601-03", "4601-06", "4601-04"],  # no route for 05 Laksevåg
    "trondheim-midtbyen": ["5001-01"],
    "trondheim": ["5001"],  # the rest of Trondheim
    "baerum": ["3201"],
    "tromso": ["5501"],
    "alesund": ["1508"],
    "haram": ["1580"],
}


def table_of(serves: dict[str, list[str]]) -> RouteTable:
    entries = [
        RecipientEntry(
            id=recipient, name=recipient, serves=numbers, vendor="rest-json", endpoint="x"
        )
        for recipient, numbers in serves.items()
    ]
    return build_table(entries, {})


TABLE = table_of(SERVES)


def routed(recipient: str, kommunenummer: str, bydelsnummer: str | None = None) -> Routed:
    return Routed(recipient, "rest-json", kommunenummer, bydelsnummer)


OSLO_CASES = [
    (("0301", bydel), routed(recipient, "0301", bydel))
    for recipient, bydeler in OSLO.items()
    for bydel in bydeler
]


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        # Bergen's number before 2020, with a bydel: today's Bergen route for that bydel.
        (("1201", "02"), routed("bergen-bergenhus", "4601", "02")),
        (("4601", "02"), routed("bergen-bergenhus", "4601", "02")),
        (("1201", "08"), routed("bergen-nord", "4601", "08")),
        *OSLO_CASES,
        # Tromsø 2020–2023 and before 2020; Bærum 2020–2023 and before 2020.
        (("5401", None), routed("tromso", "5501")),
        (("1902", None), routed("tromso", "5501")),
        (("3024", None), routed("baerum", "3201")),
        (("0219", None), routed("baerum", "3201")),
        # A bydel where the municipality is routed as a whole is not needed.
        (("3201", "05"), routed("baerum", "3201")),
        # "K-B" wins over "K"; without a bydel route, "K" serves the rest.
        (("5001", "01"), routed("trondheim-midtbyen", "5001", "01")),
        (("5001", "02"), routed("trondheim", "5001")),
        (("5001", "99"), routed("trondheim", "5001")),
        (("5001", None), routed("trondheim", "5001")),
        (("1601", "01"), routed("trondheim-midtbyen", "5001", "01")),
        # Split numbers: HELD with the split named.
        (
            ("1507", None),
            Held("kommunenummer 1507 was split in 2024 into 1508 and 1580; choose the recipient"),
        ),
        (
            ("1504", "01"),
            Held(
                "kommunenummer 1504 became 1507 in 2020, which was split in 2024 into 1508"
                " and 1580; choose the recipient"
            ),
        ),
        # Numbers that never existed.
        (("9999", None), Held("kommunenummer 9999 has never existed")),
        (
            ("2100", None),
            Held(
                "kommunenummer 2100 is Svalbard, which has a number in Posten's register "
                "but is no municipality; choose the recipient"
            ),
        ),
        (("0000", "01"), Held("kommunenummer 0000 has never existed")),
        # Routed by bydel, and the report's bydel has no route.
        (("4601", "05"), Held("no recipient serves 4601 bydel 05")),
        (
            ("1201", "05"),
            Held("no recipient serves 4601 bydel 05 (the report's 1201 is 4601 today)"),
        ),
        (("4601", "42"), Held("no recipient serves 4601 bydel 42 (4601 has no bydel 42)")),
        (("4601", None), Held("4601 is routed by bydel and the report names no bydel")),
        (
            ("0301", "99"),
            Held("0301 is routed by bydel and the report's bydel is 99 (unspecified)"),
        ),
        # No route at all.
        (("1103", "01"), Held("no recipient serves 1103")),
        (("0101", None), Held("no recipient serves 3101 (the report's 0101 is 3101 today)")),
    ],
    ids=lambda value: "-".join(v or "none" for v in value) if isinstance(value, tuple) else "",
)
def test_resolution(numbers: tuple[str, str | None], expected: Decision) -> None:
    assert resolve(*numbers, REGISTRY, TABLE) == expected


def test_a_statistical_area_without_a_route_says_what_it_is() -> None:
    table = table_of({"oslo": [f"0301-{bydel:02d}" for bydel in range(1, 16)]})
    assert resolve("0301", "16", REGISTRY, table) == Held(
        "no recipient serves 0301 bydel 16 (Sentrum: a statistical area with no service of its own)"
    )


# -- properties -------------------------------------------------------------------------

EVERY_MUNICIPALITY = table_of({f"k{number}": [number] for number in REGISTRY.kommuner})
CURRENT = sorted(REGISTRY.kommuner)
HISTORICAL = sorted({*REGISTRY.former, *REGISTRY.splits})
BYDEL = st.none() | st.from_regex(r"\A[0-9]{2}\Z")
REASON = re.compile(r"^(kommunenummer \d{4} |no recipient serves \d{4}|\d{4} is routed by bydel)")


@given(st.sampled_from(CURRENT), BYDEL)
def test_every_current_number_resolves_to_itself(kommunenummer: str, bydel: str | None) -> None:
    assert resolve(kommunenummer, bydel, REGISTRY, EVERY_MUNICIPALITY) == routed(
        f"k{kommunenummer}", kommunenummer
    )


@given(st.sampled_from(HISTORICAL), BYDEL)
def test_every_historical_number_resolves_to_a_current_one_or_is_held_as_split(
    kommunenummer: str, bydel: str | None
) -> None:
    decision = resolve(kommunenummer, bydel, REGISTRY, EVERY_MUNICIPALITY)
    if isinstance(decision, Routed):
        assert decision.kommunenummer in REGISTRY.kommuner
        assert decision.kommunenummer == REGISTRY.former[kommunenummer].now
    else:
        split = REGISTRY.splits[kommunenummer]
        assert decision.reason == f"{split.describe()}; choose the recipient"
        assert all(part in decision.reason for part in split.parts)


@given(st.from_regex(r"\A[0-9]{4}\Z"), BYDEL)
def test_any_four_digits_get_a_decision_never_an_error(
    kommunenummer: str, bydel: str | None
) -> None:
    decision = resolve(kommunenummer, bydel, REGISTRY, TABLE)
    if isinstance(decision, Routed):
        assert decision.kommunenummer in REGISTRY.kommuner
    else:
        assert REASON.match(decision.reason), decision.reason
