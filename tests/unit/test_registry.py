"""The municipality registry built from the packaged reference data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from router.registry import (
    DATA_DIR,
    Bydel,
    BydelKind,
    Kommune,
    RegistryError,
    Split,
    default_registry,
    load_registry,
)

REGISTRY = default_registry()


def test_it_knows_the_357_municipalities_of_today() -> None:
    assert len(REGISTRY.kommuner) == 357
    assert REGISTRY.kommuner["4601"] == Kommune("4601", "Bergen", "46", "Vestland")
    assert "9999" not in REGISTRY.kommuner


@pytest.mark.parametrize(
    ("former", "now"),
    [("1201", "4601"), ("5401", "5501"), ("1902", "5501"), ("3024", "3201"), ("0219", "3201")],
)
def test_former_numbers_lead_to_todays(former: str, now: str) -> None:
    found = REGISTRY.lookup(former)
    assert isinstance(found, Kommune)
    assert found.kommunenummer == now


def test_every_number_since_1971_is_current_former_or_split() -> None:
    assert len(REGISTRY.kommuner) + len(REGISTRY.former) + len(REGISTRY.splits) == 895
    assert not set(REGISTRY.former) & set(REGISTRY.kommuner)
    assert all(former.now in REGISTRY.kommuner for former in REGISTRY.former.values())


def test_the_21_split_numbers_name_their_parts_and_the_year() -> None:
    assert len(REGISTRY.splits) == 21
    for split in REGISTRY.splits.values():
        assert len(split.parts) > 1
        assert set(split.parts) <= set(REGISTRY.kommuner)
        assert 1971 < split.year <= 2024
    assert REGISTRY.lookup("1507") == Split(
        "1507", "Ålesund", 2024, "1507", None, ("1508", "1580"), ("1508", "1580")
    )


@pytest.mark.parametrize(
    ("number", "description"),
    [
        ("1507", "kommunenummer 1507 was split in 2024 into 1508 and 1580"),
        (
            "1534",
            "kommunenummer 1534 became 1507 in 2020, which was split in 2024 into 1508 and 1580",
        ),
        ("5012", "kommunenummer 5012 was split in 2020 into 5055, 5056 and 5059"),
        (
            "0720",
            "kommunenummer 0720 was split in 2017 into 0704 and 0710;"
            " its parts are today 3905 and 3907",
        ),
        (
            "1501",
            "kommunenummer 1501 was split in 1977 into 1504 and 1531;"
            " its parts are today 1508, 1531 and 1580",
        ),
    ],
)
def test_a_split_is_described_for_a_human(number: str, description: str) -> None:
    split = REGISTRY.splits[number]
    assert split.describe() == description


def all_bydeler() -> list[Bydel]:
    return [bydel for city in REGISTRY.bydeler.values() for bydel in city.values()]


def test_bydeler_of_the_four_cities_with_their_kinds() -> None:
    assert sorted(REGISTRY.bydeler) == ["0301", "1103", "4601", "5001"]
    assert len(REGISTRY.bydeler_of("0301")) == 18
    bergenhus = REGISTRY.bydel("4601", "02")
    assert bergenhus is not None
    assert (bergenhus.bydelsnavn, bergenhus.kind) == ("Bergenhus", BydelKind.BYDEL)
    kinds = {(b.kommunenummer, b.bydelsnummer): b.kind for b in all_bydeler()}
    assert {key for key, kind in kinds.items() if kind is BydelKind.STATISTICAL} == {
        ("0301", "16"),
        ("0301", "17"),
    }
    assert {key for key, kind in kinds.items() if kind is BydelKind.UNSPECIFIED} == {
        ("0301", "99"),
        ("1103", "99"),
        ("4601", "99"),
        ("5001", "99"),
    }
    assert REGISTRY.bydel("1101", "01") is None
    assert REGISTRY.bydeler_of("1101") == {}


def test_a_broken_copy_of_the_data_is_refused(tmp_path: Path) -> None:
    for source in DATA_DIR.glob("*.csv"):
        shutil.copy(source, tmp_path / source.name)
    municipalities = tmp_path / "kommuner_2024.csv"
    lines = municipalities.read_text("utf-8").splitlines(keepends=True)
    municipalities.write_text("".join(lines[:-1]), "utf-8")
    with pytest.raises(RegistryError, match="356 municipalities"):
        load_registry(tmp_path)
