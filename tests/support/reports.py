"""Report documents for tests, built from the KS protocol's own examples."""

from __future__ import annotations

from typing import Any

from intake.protocol import example


def document(
    meldingstype: str, kommunenummer: str = "4601", bydelsnummer: str = "02", text: str = ""
) -> dict[str, Any]:
    value = example(meldingstype)
    value["kommunenummer"] = kommunenummer
    value["bydelsnummer"] = bydelsnummer
    if text:
        if isinstance(value.get("melding"), dict):
            value["melding"]["melding"] = text
        else:
            value["melding"] = text
    return value


def submission(meldingstype: str, **kwargs: Any) -> dict[str, Any]:
    return {"meldingstype": meldingstype, "bekymringsmelding": document(meldingstype, **kwargs)}
