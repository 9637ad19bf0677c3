"""The KS protocol's own files (schemas and examples), copied unchanged; see PROVENANCE.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from intake.meldingstyper import OFFENTLIG_V1, OFFENTLIG_V2, PRIVAT_V1, PRIVAT_V2

HERE = Path(__file__).parent

EXAMPLE_FILES: dict[str, str] = {
    PRIVAT_V1: "privatBekymringsmeldingV1.json",
    PRIVAT_V2: "privatBekymringsmeldingV2.json",
    OFFENTLIG_V1: "offentligBekymringsmeldingV1.json",
    OFFENTLIG_V2: "offentligBekymringsmeldingV2.json",
}


def example(meldingstype: str) -> dict[str, Any]:
    """A fresh copy of the protocol's example document for a message type."""
    value = json.loads((HERE / "examples" / EXAMPLE_FILES[meldingstype]).read_text("utf-8"))
    assert isinstance(value, dict)
    return value
