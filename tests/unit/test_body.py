from __future__ import annotations

import json
from datetime import UTC, datetime

from deliverers.body import delivery_body

DOCUMENT = (
    '{"kommunenummer":"4601","melding":"Hei 👋 æøå שלום","ukjent":{"a":[1,2.5,null]}}'.encode()
)
T0 = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)


def body(**overrides: object) -> bytes:
    values: dict[str, object] = {
        "report_id": "b5f86c61-ff8b-4309-90be-615684a8ef44",
        "meldingstype": "no.ks.fiks.bekymringsmelding.privat.v2",
        "recipient": "bergen",
        "kommunenummer": "4601",
        "bydelsnummer": None,
        "mottatt": T0,
        "document": DOCUMENT,
    }
    values.update(overrides)
    return delivery_body(**values)  # type: ignore[arg-type]


def test_the_same_report_gives_the_same_bytes() -> None:
    assert body() == body()


def test_the_document_is_carried_byte_for_byte() -> None:
    sent = body()
    assert DOCUMENT in sent
    assert json.loads(sent)["bekymringsmelding"] == json.loads(DOCUMENT)


def test_the_envelope_follows_the_contract() -> None:
    envelope = json.loads(body(bydelsnummer="02"))
    assert envelope["id"] == "b5f86c61-ff8b-4309-90be-615684a8ef44"
    assert envelope["mottaker"] == {
        "recipient": "bergen",
        "kommunenummer": "4601",
        "bydelsnummer": "02",
    }
    assert envelope["mottatt"] == "2026-11-26T12:00:00.123456Z"


def test_bydelsnummer_is_left_out_unless_routed_by_bydel() -> None:
    assert "bydelsnummer" not in json.loads(body())["mottaker"]
