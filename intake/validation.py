"""Checking a submission's envelope and document. Raises `Problem` (422), one entry per field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from intake.meldingstyper import MELDINGSTYPER
from intake.problems import FieldError, Problem, json_pointer

KOMMUNENUMMER = re.compile(r"^[0-9]{4}$")
BYDELSNUMMER = re.compile(r"^[0-9]{2}$")


@dataclass(frozen=True)
class ValidSubmission:
    meldingstype: str
    document: dict[str, Any]
    kommunenummer: str
    bydelsnummer: str | None


def invalid(errors: list[FieldError], detail: str = "the report does not hold") -> Problem:
    return Problem(422, "invalid-report", "The report is not valid", detail, errors)


def validate_submission(body: dict[str, Any]) -> ValidSubmission:
    errors: list[FieldError] = []
    meldingstype = body.get("meldingstype")
    if meldingstype not in MELDINGSTYPER:
        errors.append(
            FieldError(json_pointer("meldingstype"), "must be one of " + ", ".join(MELDINGSTYPER))
        )
    document = body.get("bekymringsmelding")
    if not isinstance(document, dict):
        errors.append(FieldError(json_pointer("bekymringsmelding"), "must be a JSON object"))
        raise invalid(errors)
    kommunenummer = document.get("kommunenummer")
    if not isinstance(kommunenummer, str) or not KOMMUNENUMMER.match(kommunenummer):
        errors.append(
            FieldError(json_pointer("bekymringsmelding", "kommunenummer"), "must be 4 digits")
        )
    bydelsnummer = document.get("bydelsnummer")
    if bydelsnummer is not None and (
        not isinstance(bydelsnummer, str) or not BYDELSNUMMER.match(bydelsnummer)
    ):
        errors.append(
            FieldError(json_pointer("bekymringsmelding", "bydelsnummer"), "must be 2 digits")
        )
    if errors:
        raise invalid(errors)
    assert isinstance(meldingstype, str)
    assert isinstance(kommunenummer, str)
    return ValidSubmission(meldingstype, document, kommunenummer, bydelsnummer)
