"""Checking a submission: its envelope, then its document against the type's JSON Schema.

Raises `Problem` (422) with one entry per failing field, each a JSON Pointer into the
request body. The schema decides; the typed model is then read from the same document
(`intake.models` agrees with the schema, which `tests/unit/test_models_match_schemas.py`
proves). Should they ever disagree, the report is refused rather than half-read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from intake.meldingstyper import MELDINGSTYPER
from intake.models import Bekymringsmelding, model_for
from intake.problems import FieldError, Problem, json_pointer
from intake.schemas import schema_errors
from intake.tidspunkt import sendingstidspunkt_instant

log = logging.getLogger(__name__)

ENVELOPE = ("meldingstype", "bekymringsmelding")


@dataclass(frozen=True)
class ValidSubmission:
    meldingstype: str
    document: dict[str, Any]  # the portal's document, as parsed: unknown fields and all
    melding: Bekymringsmelding  # typed access to the same document
    sendingstidspunkt: datetime | None

    @property
    def kommunenummer(self) -> str:
        return self.melding.kommunenummer

    @property
    def bydelsnummer(self) -> str:
        return self.melding.bydelsnummer


def invalid(errors: list[FieldError]) -> Problem:
    return Problem(
        422,
        "invalid-report",
        "The report is not valid",
        f"{len(errors)} field{'s' if len(errors) != 1 else ''} failed; see errors",
        sorted(errors, key=lambda error: error.pointer),
    )


def validate_submission(body: dict[str, Any]) -> ValidSubmission:
    errors = [
        FieldError(json_pointer(key), "is not part of a submission: " + " and ".join(ENVELOPE))
        for key in body
        if key not in ENVELOPE
    ]
    meldingstype = body.get("meldingstype")
    if "meldingstype" not in body:
        errors.append(FieldError("/meldingstype", "is required"))
    elif meldingstype not in MELDINGSTYPER:
        errors.append(FieldError("/meldingstype", "must be one of " + ", ".join(MELDINGSTYPER)))
    document = body.get("bekymringsmelding")
    if "bekymringsmelding" not in body:
        errors.append(FieldError("/bekymringsmelding", "is required"))
    elif not isinstance(document, dict):
        errors.append(FieldError("/bekymringsmelding", "must be an object"))
    elif isinstance(meldingstype, str) and meldingstype in MELDINGSTYPER:
        errors.extend(schema_errors(meldingstype, document, "bekymringsmelding"))
    if errors:
        raise invalid(errors)
    assert isinstance(meldingstype, str)
    assert isinstance(document, dict)
    melding = _typed(meldingstype, document)
    return ValidSubmission(
        meldingstype, document, melding, sendingstidspunkt_instant(melding.sendingstidspunkt)
    )


def _typed(meldingstype: str, document: dict[str, Any]) -> Bekymringsmelding:
    try:
        return model_for(meldingstype)(document)
    except ValidationError as error:
        pointers = [json_pointer("bekymringsmelding", *e["loc"]) for e in error.errors()]
        log.error("the %s model refused a schema-valid document at %s", meldingstype, pointers)
        raise invalid(
            [FieldError(pointer, "does not satisfy the report model") for pointer in pointers]
        ) from None
