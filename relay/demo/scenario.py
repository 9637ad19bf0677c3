"""The demo's scenario: recipients for all 357 municipalities, and the reports sent to them.

The recipients look like the real landscape: Oslo and Bergen routed by bydel (several
services each), one inter-municipal service (Hallingdal: one service for six
municipalities), Stavanger and Trondheim on their own, and one recipient per county for
the rest. They share the CASE_SYSTEMS simulated case systems (as municipalities share a
vendor's gateway). The reports spread over many municipalities, bydeler and numbers that
have since changed (1201 is Bergen, 0219 Bærum, 5401 Tromsø); each names the recipient the
router's resolver gives it with these routes, so the demo's check is honest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from intake.meldingstyper import MELDINGSTYPER
from intake.protocol import example
from router.registry import BydelKind, Kommune, Registry, default_registry
from router.resolve import Routed, resolve
from router.routes import RecipientEntry, RouteTable, build_table

CASE_SYSTEMS = 3
NO_BYDEL = "00"  # the protocol requires a bydelsnummer; outside the four cities it has none


@dataclass(frozen=True)
class DemoRecipient:
    id: str
    name: str
    serves: tuple[str, ...]
    case_system: int  # which of the CASE_SYSTEMS simulated case systems it uses


@dataclass(frozen=True)
class DemoReport:
    recipient: str
    meldingstype: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Place:
    kommunenummer: str
    kommunenavn: str
    bydelsnummer: str
    bydelsnavn: str


BY_BYDEL = {
    "0301": {
        "oslo-sentrum": (
            "Gamle Oslo, Grünerløkka, Sagene, St. Hanshaugen og Sentrum",
            "01 02 03 04 16",
        ),
        "oslo-vest": ("Frogner, Ullern, Vestre Aker, Nordre Aker og Marka", "05 06 07 08 17"),
        "oslo-groruddalen": ("Bjerke, Grorud, Stovner og Alna", "09 10 11 12"),
        "oslo-sor": ("Østensjø, Nordstrand og Søndre Nordstrand", "13 14 15"),
    },
    "4601": {
        "bergen-bergenhus": ("Bergenhus og Årstad", "02 07"),
        "bergen-nord": ("Arna og Åsane", "01 08"),
        "bergen-vest": ("Laksevåg og Fyllingsdalen", "04 05"),
        "bergen-sor": ("Fana og Ytrebygda", "03 06"),
    },
}
ON_THEIR_OWN = {"stavanger": "1103", "trondheim": "5001"}
HALLINGDAL = ("3320", "3322", "3324", "3326", "3328", "3330")  # Flå, Nesbyen, Gol, … Hol

# Numbers the demo must show: old numbers, bydeler, the inter-municipal service.
SHOWCASE = [
    ("1201", "02"),  # Bergen before 2020, Bergenhus
    ("0301", "01"),
    ("0219", NO_BYDEL),  # Bærum before 2020 (3201 today)
    # Alta before 2020 (5403, then 5601). `relay demo --faults` refuses the last recipient
    # (Finnmark), so one of the first reports goes there.
    ("2012", NO_BYDEL),
    ("5401", NO_BYDEL),  # Tromsø 2020–2023 (5501 today)
    ("4601", "05"),
    ("3324", NO_BYDEL),  # Gol, served by Hallingdal
    ("0301", "16"),  # Sentrum, a statistical area
    ("1103", "03"),
    ("3024", NO_BYDEL),  # Bærum 2020–2023
    ("5001", "04"),
    ("0301", "11"),
    ("1902", NO_BYDEL),  # Tromsø before 2020
    ("1201", "08"),
    ("1601", NO_BYDEL),  # Trondheim before 2018
    ("0301", "14"),
    ("4601", "03"),
]


def secret_env(recipient_id: str) -> str:
    return f"RELAY_SECRET_{recipient_id.upper().replace('-', '_')}"


@functools.cache
def recipients() -> tuple[DemoRecipient, ...]:
    registry = default_registry()
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for kommunenummer, services in BY_BYDEL.items():
        city = registry.kommuner[kommunenummer].kommunenavn
        for recipient, (names, bydeler) in services.items():
            serves = tuple(f"{kommunenummer}-{bydel}" for bydel in bydeler.split())
            found.append((recipient, f"Barneverntjenesten i {city}: {names}", serves))
    for recipient, kommunenummer in ON_THEIR_OWN.items():
        city = registry.kommuner[kommunenummer].kommunenavn
        found.append((recipient, f"Barneverntjenesten i {city}", (kommunenummer,)))
    found.append(("hallingdal", "Hallingdal barneverntjeneste (interkommunal)", HALLINGDAL))
    taken = {*BY_BYDEL, *ON_THEIR_OWN.values(), *HALLINGDAL}
    counties: dict[str, list[str]] = {}
    for kommune in registry.kommuner.values():
        if kommune.kommunenummer not in taken:
            counties.setdefault(kommune.fylkesnavn, []).append(kommune.kommunenummer)
    for county, numbers in counties.items():
        name = f"Barneverntjenestene i {county} (fylkesvis, demo)"
        found.append((_slug(county), name, tuple(sorted(numbers))))
    return tuple(
        DemoRecipient(recipient, name, serves, index % CASE_SYSTEMS)
        for index, (recipient, name, serves) in enumerate(found)
    )


def __getattr__(name: str) -> tuple[DemoRecipient, ...]:
    """`RECIPIENTS`, built from the registry on first use (nothing is read at import)."""
    if name == "RECIPIENTS":
        return recipients()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def routes_document(endpoints: list[str]) -> dict[str, Any]:
    """The routes file's content, given the URL of each simulated case system."""
    return {
        "recipients": [
            {
                "id": recipient.id,
                "name": recipient.name,
                "serves": list(recipient.serves),
                "vendor": "rest-json",
                "endpoint": endpoints[recipient.case_system],
                "secret_env": secret_env(recipient.id),
            }
            for recipient in recipients()
        ]
    }


def route_table() -> RouteTable:
    """The demo's routes as the router sees them (without secrets)."""
    entries = [
        RecipientEntry(
            id=r.id, name=r.name, serves=list(r.serves), vendor="rest-json", endpoint="demo"
        )
        for r in recipients()
    ]
    return build_table(entries, {}, source="demo")


def places(registry: Registry) -> list[Place]:
    """The showcase, then one place each recipient serves (so that every recipient gets
    reports early), then every 7th municipality of today and every 11th former number (in
    the four cities with one of their bydeler)."""
    served = [r.serves[len(r.serves) // 2].partition("-") for r in recipients()]
    each = [(number, bydel or NO_BYDEL) for number, _, bydel in served]
    today = sorted(registry.kommuner)[::7]
    former = sorted(registry.former)[::11]
    spread = [number for pair in zip(today, former, strict=False) for number in pair]
    numbers = [
        *SHOWCASE,
        *each,
        *((number, _a_bydel(number, i, registry)) for i, number in enumerate(spread)),
    ]
    return [_place(kommunenummer, bydel, registry) for kommunenummer, bydel in numbers]


def demo_reports(count: int) -> list[DemoReport]:
    """`count` reports from the KS examples (all four message types), spread over the places."""
    registry, table = default_registry(), route_table()
    spread = places(registry)
    reports = []
    for number in range(count):
        place = spread[number % len(spread)]
        decision = resolve(place.kommunenummer, place.bydelsnummer, registry, table)
        if not isinstance(decision, Routed):
            raise AssertionError(f"the demo's routes hold {place}: {decision.reason}")
        meldingstype = MELDINGSTYPER[number % len(MELDINGSTYPER)]
        document = example(meldingstype)
        document.update(
            kommunenummer=place.kommunenummer,
            kommunenavn=place.kommunenavn,
            bydelsnummer=place.bydelsnummer,
            bydelsnavn=place.bydelsnavn,
        )
        text = f"Demomelding nr. {number}: dette er oppdiktet innhold."
        if isinstance(document.get("melding"), dict):
            document["melding"]["melding"] = text
        else:
            document["melding"] = text
        reports.append(DemoReport(decision.recipient, meldingstype, document))
    return reports


def _a_bydel(kommunenummer: str, index: int, registry: Registry) -> str:
    found = registry.lookup(kommunenummer)
    assert isinstance(found, Kommune), kommunenummer
    bydeler = sorted(
        bydel.bydelsnummer
        for bydel in registry.bydeler_of(found.kommunenummer).values()
        if bydel.kind is BydelKind.BYDEL
    )
    return bydeler[index % len(bydeler)] if bydeler else NO_BYDEL


def _place(kommunenummer: str, bydelsnummer: str, registry: Registry) -> Place:
    former = registry.former.get(kommunenummer)
    kommunenavn = former.kommunenavn if former else registry.kommuner[kommunenummer].kommunenavn
    now = former.now if former else kommunenummer
    bydel = registry.bydel(now, bydelsnummer)
    return Place(kommunenummer, kommunenavn, bydelsnummer, bydel.bydelsnavn if bydel else "")


def _slug(name: str) -> str:
    """ "Møre og Romsdal" -> "more-og-romsdal"; "Troms - Romsa - Tromssa" -> "troms"."""
    first = name.split(" - ")[0].lower()
    for letter, plain in (("æ", "ae"), ("ø", "o"), ("å", "a")):
        first = first.replace(letter, plain)
    return "-".join(first.split())
