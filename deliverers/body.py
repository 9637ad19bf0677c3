"""The bytes a case system receives for a report: deterministic, identical on every attempt."""

from __future__ import annotations

import json
from datetime import datetime

from ledger.clock import rfc3339


def delivery_body(
    *,
    report_id: str,
    meldingstype: str,
    recipient: str,
    kommunenummer: str,
    bydelsnummer: str | None,
    mottatt: datetime,
    document: bytes,
) -> bytes:
    """The rest-json body (also the fiks-io payload), the portal's document spliced in as stored.

    The stored document bytes are inserted verbatim, never re-serialised, so what the case
    system gets is what the portal sent, and the same ledger row always gives the same bytes.
    """
    mottaker: dict[str, str] = {"recipient": recipient, "kommunenummer": kommunenummer}
    if bydelsnummer is not None:
        mottaker["bydelsnummer"] = bydelsnummer
    envelope = json.dumps(
        {
            "id": report_id,
            "meldingstype": meldingstype,
            "mottaker": mottaker,
            "mottatt": rfc3339(mottatt),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return envelope[:-1].encode() + b',"bekymringsmelding":' + document + b"}"
