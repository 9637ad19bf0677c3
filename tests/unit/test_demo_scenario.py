"""The demo's scenario: every municipality has a recipient, and the reports show the router."""

from __future__ import annotations

import re
from collections import Counter

from relay.demo.scenario import RECIPIENTS, demo_reports, route_table
from router.registry import default_registry
from router.resolve import Routed, resolve

REGISTRY = default_registry()
REPORTS = demo_reports(50)


def test_recipients_cover_all_357_municipalities_once() -> None:
    table = route_table()
    assert len({r.id for r in RECIPIENTS}) == len(RECIPIENTS) >= 20
    for kommunenummer in REGISTRY.kommuner:
        assert isinstance(resolve(kommunenummer, "01", REGISTRY, table), Routed), kommunenummer


def test_oslo_and_bergen_are_routed_by_bydel_to_several_recipients() -> None:
    by_city = Counter(
        number.split("-")[0] for r in RECIPIENTS for number in r.serves if "-" in number
    )
    assert by_city == {"0301": 17, "4601": 8}
    for city in ("0301", "4601"):
        assert len({r.id for r in RECIPIENTS if any(s.startswith(city) for s in r.serves)}) >= 3


def test_one_recipient_serves_several_small_municipalities() -> None:
    hallingdal = next(r for r in RECIPIENTS if r.id == "hallingdal")
    assert len(hallingdal.serves) == 6


def test_reports_spread_over_many_places_and_old_numbers() -> None:
    numbers = Counter(report.document["kommunenummer"] for report in REPORTS)
    assert len(numbers) >= 30
    assert {"1201", "0219", "5401", "3024", "1902"} <= set(numbers)
    assert {report.recipient for report in REPORTS} == {r.id for r in RECIPIENTS}
    bydeler = {
        (report.document["kommunenummer"], report.document["bydelsnummer"])
        for report in REPORTS
        if report.document["kommunenummer"] in ("0301", "4601", "1201")
    }
    assert len(bydeler) >= 6


def test_each_report_names_the_recipient_the_router_gives_it() -> None:
    table = route_table()
    for report in REPORTS:
        document = report.document
        decision = resolve(document["kommunenummer"], document["bydelsnummer"], REGISTRY, table)
        assert isinstance(decision, Routed)
        assert decision == Routed(
            report.recipient, "rest-json", decision.kommunenummer, decision.bydelsnummer
        )
    bergen_before_2020 = next(r for r in REPORTS if r.document["kommunenummer"] == "1201")
    assert bergen_before_2020.recipient == "bergen-bergenhus"


def test_documents_keep_the_protocols_patterns() -> None:
    for report in REPORTS:
        assert re.fullmatch(r"\d{4}", report.document["kommunenummer"])
        assert re.fullmatch(r"[0-9]{2}", report.document["bydelsnummer"])
        assert isinstance(report.document["kommunenavn"], str)
        assert report.document["kommunenavn"]
        assert isinstance(report.document["bydelsnavn"], str)
