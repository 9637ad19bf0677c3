"""The municipality registry: today's municipalities, every number since 1971, the bydeler.

A value: `load_registry` reads the reference data in `router/data/` (see its PROVENANCE.md)
once; the `Registry` it returns is immutable and answers without I/O.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

DATA_DIR = Path(__file__).parent / "data"
CURRENT_MUNICIPALITIES = 357

UNSPECIFIED_BYDEL = "99"
# Oslo's 16 Sentrum and 17 Marka are statistical areas in SSB's classification, not among
# Oslo's 15 administrative bydeler; they have no child-welfare service of their own.
STATISTICAL_BYDELER = frozenset({("0301", "16"), ("0301", "17")})


class RegistryError(Exception):
    """The reference data does not hold together (a broken copy, not an operator's mistake)."""


class BydelKind(StrEnum):
    BYDEL = "bydel"
    STATISTICAL = "statistical"  # Oslo 16 Sentrum, 17 Marka
    UNSPECIFIED = "unspecified"  # 99 Uoppgitt


@dataclass(frozen=True)
class Kommune:
    kommunenummer: str
    kommunenavn: str
    fylkesnummer: str
    fylkesnavn: str


@dataclass(frozen=True)
class Bydel:
    kommunenummer: str
    bydelsnummer: str
    bydelsnavn: str
    kind: BydelKind


@dataclass(frozen=True)
class FormerNumber:
    """A number that is no longer in use and became exactly one of today's numbers."""

    kommunenummer: str
    kommunenavn: str  # in the last version that had it
    now: str


@dataclass(frozen=True)
class Split:
    """A number whose municipality was divided: SSB cannot say which part went where."""

    kommunenummer: str
    kommunenavn: str
    year: int  # when the division happened
    split_number: str  # the number that was divided (this one, or one it had become)
    became_year: int | None  # when this number became `split_number`, if it is another one
    divided_into: tuple[str, ...]  # the numbers the division created
    parts: tuple[str, ...]  # today's numbers

    def describe(self) -> str:
        """E.g. "kommunenummer 1507 was split in 2024 into 1508 and 1580"."""
        text = f"kommunenummer {self.kommunenummer}"
        if self.split_number != self.kommunenummer:
            text += f" became {self.split_number} in {self.became_year}, which"
        text += f" was split in {self.year} into {join(self.divided_into)}"
        if self.divided_into != self.parts:
            text += f"; its parts are today {join(self.parts)}"
        return text


@dataclass(frozen=True)
class Registry:
    kommuner: Mapping[str, Kommune]  # today's numbers
    former: Mapping[str, FormerNumber]  # numbers no longer in use, with one successor
    splits: Mapping[str, Split]
    bydeler: Mapping[str, Mapping[str, Bydel]]  # kommunenummer -> bydelsnummer -> Bydel

    def lookup(self, kommunenummer: str) -> Kommune | Split | None:
        """Today's municipality for any number used since 1971, a `Split`, or None."""
        if kommunenummer in self.kommuner:
            return self.kommuner[kommunenummer]
        former = self.former.get(kommunenummer)
        if former is not None:
            return self.kommuner[former.now]
        return self.splits.get(kommunenummer)

    def bydeler_of(self, kommunenummer: str) -> Mapping[str, Bydel]:
        return self.bydeler.get(kommunenummer, MappingProxyType({}))

    def bydel(self, kommunenummer: str, bydelsnummer: str) -> Bydel | None:
        return self.bydeler_of(kommunenummer).get(bydelsnummer)


def join(numbers: Iterable[str]) -> str:
    """("1508", "1580") -> "1508 and 1580"; three or more with commas."""
    items = list(numbers)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@functools.cache
def default_registry() -> Registry:
    """The registry from the packaged data, read once per process."""
    return load_registry(DATA_DIR)


def load_registry(directory: Path) -> Registry:
    kommuner = {
        row["kommunenummer"]: Kommune(
            row["kommunenummer"], row["kommunenavn"], row["fylkesnummer"], row["fylkesnavn"]
        )
        for row in _rows(directory / "kommuner_2024.csv")
    }
    if len(kommuner) != CURRENT_MUNICIPALITIES:
        raise RegistryError(f"kommuner_2024.csv has {len(kommuner)} municipalities")
    changes = _changes(_rows(directory / "kommuneendringer_ssb_1971_2024.csv"))
    former: dict[str, FormerNumber] = {}
    splits: dict[str, Split] = {}
    listed: set[str] = set()
    for row in _rows(directory / "kommunenummer_historisk_til_2024.csv"):
        number, name = row["kommunenummer"], row["kommunenavn"]
        listed.add(number)
        targets = tuple(sorted(row["kommunenummer_2024"].split(";")))
        if unknown := [target for target in targets if target not in kommuner]:
            raise RegistryError(f"{number} maps to {', '.join(unknown)}, not a 2024 number")
        if number in kommuner:
            if targets != (number,):
                raise RegistryError(f"{number} is current but maps to {', '.join(targets)}")
        elif len(targets) == 1:
            former[number] = FormerNumber(number, name, targets[0])
        else:
            stopped = date.fromisoformat(row["ikke_gyldig_fra"])
            splits[number] = _trace_split(number, name, stopped, targets, changes)
    if missing := sorted(set(kommuner) - listed):
        raise RegistryError(f"not in the history file: {', '.join(missing)}")
    return Registry(
        kommuner=MappingProxyType(kommuner),
        former=MappingProxyType(former),
        splits=MappingProxyType(splits),
        bydeler=MappingProxyType(_bydeler(_rows(directory / "bydeler.csv"), kommuner)),
    )


Changes = Mapping[str, list[tuple[date, str]]]


def _changes(rows: Iterable[dict[str, str]]) -> Changes:
    """Old number -> (date, new number) for every change that is more than a new name."""
    changes: dict[str, list[tuple[date, str]]] = {}
    for row in rows:
        old, new = row["gammelt_kommunenummer"], row["nytt_kommunenummer"]
        if old != new:
            changes.setdefault(old, []).append((date.fromisoformat(row["endret_dato"]), new))
    return changes


def _trace_split(
    number: str, name: str, stopped: date, parts: tuple[str, ...], changes: Changes
) -> Split:
    """Follow the change table from the day `number` stopped to the change that divided it."""
    current, became_year, since = number, None, stopped
    while True:
        dates = sorted({when for when, _ in changes.get(current, ()) if when >= since})
        if not dates:
            raise RegistryError(f"the change table does not show how {number} was split")
        when = dates[0]
        targets = tuple(sorted({new for on, new in changes[current] if on == when}))
        if len(targets) > 1:
            return Split(number, name, when.year, current, became_year, targets, parts)
        current, became_year, since = targets[0], when.year, when + timedelta(days=1)


def _bydeler(
    rows: Iterable[dict[str, str]], kommuner: Mapping[str, Kommune]
) -> Mapping[str, Mapping[str, Bydel]]:
    bydeler: dict[str, dict[str, Bydel]] = {}
    for row in rows:
        kommunenummer, bydelsnummer = row["kommunenummer"], row["bydelsnummer"]
        if kommunenummer not in kommuner:
            raise RegistryError(f"bydeler.csv names {kommunenummer}, not a 2024 number")
        if bydelsnummer == UNSPECIFIED_BYDEL:
            kind = BydelKind.UNSPECIFIED
        elif (kommunenummer, bydelsnummer) in STATISTICAL_BYDELER:
            kind = BydelKind.STATISTICAL
        else:
            kind = BydelKind.BYDEL
        bydeler.setdefault(kommunenummer, {})[bydelsnummer] = Bydel(
            kommunenummer, bydelsnummer, row["bydelsnavn"], kind
        )
    return MappingProxyType({k: MappingProxyType(v) for k, v in bydeler.items()})


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))
