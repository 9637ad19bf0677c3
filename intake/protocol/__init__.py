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

SCHEMA_FILES: dict[str, str] = {
    PRIVAT_V1: "privat.bekymringsmelding.v1.json",
    PRIVAT_V2: "v2/privat.bekymringsmelding.v2.json",
    OFFENTLIG_V1: "offentlig.bekymringsmelding.v1.json",
    OFFENTLIG_V2: "v2/offentlig.bekymringsmelding.v2.json",
}
ADRESSE_FILE = "adresse.json"


def _read_object(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text("utf-8"))
    assert isinstance(value, dict)
    return value


def example(meldingstype: str) -> dict[str, Any]:
    """A fresh copy of the protocol's example document for a message type."""
    return _read_object(HERE / "examples" / EXAMPLE_FILES[meldingstype])


def schema(meldingstype: str) -> dict[str, Any]:
    """A fresh copy of the JSON Schema (draft 2019-09) of a message type's document."""
    return _read_object(HERE / "schemas" / SCHEMA_FILES[meldingstype])


def adresse_schema() -> dict[str, Any]:
    """A fresh copy of the address schema that the report schemas `$ref`."""
    return _read_object(HERE / "schemas" / ADRESSE_FILE)
