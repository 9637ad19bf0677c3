"""The demo's scenario: the recipients, what they serve, and the reports sent to them.

Several recipients may share one simulated case system (as municipalities share a vendor's
gateway); each report names the recipient it must reach, so the demo can check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intake.meldingstyper import MELDINGSTYPER
from intake.protocol import example

CASE_SYSTEMS = 3


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


RECIPIENTS = (
    DemoRecipient("oslo", "Barneverntjenesten i Oslo", ("0301",), 0),
    DemoRecipient("bergen", "Barneverntjenesten i Bergen", ("4601",), 1),
    DemoRecipient("trondheim", "Barneverntjenesten i Trondheim", ("5001",), 2),
)

PLACES: dict[str, Place] = {
    "oslo": Place("0301", "Oslo", "01", "Gamle Oslo"),
    "bergen": Place("4601", "Bergen", "02", "Bergenhus"),
    "trondheim": Place("5001", "Trondheim", "01", "Midtbyen"),
}


def secret_env(recipient_id: str) -> str:
    return f"RELAY_SECRET_{recipient_id.upper().replace('-', '_')}"


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
            for recipient in RECIPIENTS
        ]
    }


def demo_reports(count: int) -> list[DemoReport]:
    """`count` reports from the KS examples (all four message types), spread over the places."""
    reports = []
    names = list(PLACES)
    for number in range(count):
        recipient = names[number % len(names)]
        place = PLACES[recipient]
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
        reports.append(DemoReport(recipient, meldingstype, document))
    return reports
