"""The differential test: our accept/refuse decision equals the JSON Schema's verdict.

For each message type, thousands of generated documents (valid ones and mutations of them)
go to the `jsonschema` library (draft 2019-09 with the ECMA-262 `pattern` of
`intake.schemas`), to the pydantic model, and to `validate_submission`, the decision
intake acts on. All three must agree on every document.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from pydantic import ValidationError

from intake.meldingstyper import MELDINGSTYPER
from intake.models import model_for
from intake.problems import Problem
from intake.protocol import adresse_schema, example, schema
from intake.schemas import is_valid
from intake.validation import validate_submission
from tests.support.documents import (
    EXTRA_KEYS,
    OTHER_TYPES,
    TRICKY,
    VALID_DOCUMENTS,
    mutated,
    nodes,
)
from tests.support.profiles import examples

EXAMPLES_PER_TYPE = 2000  # under the "ci" profile


def model_accepts(meldingstype: str, document: Any) -> bool:
    try:
        model_for(meldingstype)(document)
    except ValidationError:
        return False
    return True


def intake_accepts(meldingstype: str, document: Any) -> bool:
    try:
        validate_submission({"meldingstype": meldingstype, "bekymringsmelding": document})
    except Problem as problem:
        refusal = problem
    else:
        return True
    assert refusal.status == 422
    assert refusal.errors, "a refusal names at least one field"
    return False


@pytest.mark.parametrize("meldingstype", MELDINGSTYPER)
def test_valid_documents_are_valid(meldingstype: str) -> None:
    """The generator of valid documents is right, else the mutations prove little."""

    @settings(
        max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(VALID_DOCUMENTS[meldingstype])
    def check(document: dict[str, Any]) -> None:
        assert is_valid(meldingstype, document)

    check()


@pytest.mark.parametrize("meldingstype", MELDINGSTYPER)
def test_the_model_and_intake_decide_as_the_schema_does(meldingstype: str) -> None:
    @settings(
        max_examples=examples(EXAMPLES_PER_TYPE),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated(VALID_DOCUMENTS[meldingstype]))
    def check(document: Any) -> None:
        verdict = is_valid(meldingstype, document)
        event("valid" if verdict else "invalid")
        assert model_accepts(meldingstype, document) == verdict
        assert intake_accepts(meldingstype, document) == verdict

    check()


# Named cases, so that the interesting verdicts are pinned down whatever the generator draws.
def _set(meldingstype: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    from tests.support.reports import document

    doc = document(meldingstype)
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


PRIVAT, OFFENTLIG = MELDINGSTYPER[1], MELDINGSTYPER[3]
CASES = [
    ("kommunenummer with a trailing newline", PRIVAT, ("kommunenummer",), "4601\n", False),
    ("kommunenummer in Arabic-Indic digits", PRIVAT, ("kommunenummer",), "٤٦٠١", False),
    ("a name line holding CR", OFFENTLIG, ("offentligBarn", 0, "personnavn"), "a\rb", False),
    ("a name line holding U+2028", OFFENTLIG, ("foresatte", 0, "personnavn"), "a\u2028", False),
    ("privat names may span lines", PRIVAT, ("privatMelder", "personnavn"), "a\nb", True),
    ("null for an optional field", PRIVAT, ("privatMelder", "telefonnummer"), None, False),
    ("no children in privat (minLength on an array)", PRIVAT, ("privatBarn",), [], True),
    ("no children in offentlig", OFFENTLIG, ("offentligBarn",), [], False),
    ("a string for a boolean", OFFENTLIG, ("offentligBarn", 0, "ufoedt"), "false", False),
    ("1 for a boolean", OFFENTLIG, ("foresatte", 0, "orientert"), 1, False),
    ("a number for a string", PRIVAT, ("melding",), 7, False),
    ("sendingstidspunkt that is no date-time", PRIVAT, ("sendingstidspunkt",), "i går", True),
    ("an unknown field of any type", OFFENTLIG, ("vedlegg",), [{"navn": None}], True),
    ("a field named like a model attribute", PRIVAT, ("privat_melder",), 1, True),
    ("a pydantic name", PRIVAT, ("model_config",), {"strict": False}, True),
]


@pytest.mark.parametrize(
    ("meldingstype", "path", "value", "valid"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_named_edge_cases(
    meldingstype: str, path: tuple[str | int, ...], value: Any, valid: bool
) -> None:
    document = _set(meldingstype, path, value)
    assert is_valid(meldingstype, document) is valid
    assert model_accepts(meldingstype, document) is valid
    assert intake_accepts(meldingstype, document) is valid


def test_three_foresatte_are_too_many() -> None:
    document = _set(OFFENTLIG, ("foresatte",), [])
    document["foresatte"] = [{"personnavn": f"Foresatt {n}", "orientert": True} for n in range(3)]
    assert not is_valid(OFFENTLIG, document)
    assert not model_accepts(OFFENTLIG, document)


def _property_names(value: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(value, dict):
        names.update(value.get("properties", {}))
        for child in value.values():
            names |= _property_names(child)
    return names


@pytest.mark.parametrize("meldingstype", MELDINGSTYPER)
def test_every_single_change_to_every_field_is_judged_alike(meldingstype: str) -> None:
    """Exhaustive where the random test samples: each field of the protocol's example (which
    has every property of its schema) is in turn left out, and replaced by each value of
    each JSON type and each tricky string; and each object gets an unknown field."""
    document = example(meldingstype)
    every_property = _property_names(schema(meldingstype)) | _property_names(adresse_schema())
    assert every_property <= {path[-1] for path, _ in nodes(document) if path}
    replacements = [*OTHER_TYPES, *TRICKY, DELETE]
    checked = 0
    for path, value in nodes(document):
        candidates = replacements if path else [*OTHER_TYPES]
        if isinstance(value, dict):
            candidates = [*candidates, *({**value, key: 1} for key in EXTRA_KEYS)]
        for replacement in candidates:
            changed = _changed(document, path, replacement)
            verdict = is_valid(meldingstype, changed)
            assert model_accepts(meldingstype, changed) == verdict, (path, replacement)
            checked += 1
    assert checked > 1000


DELETE = object()


def _changed(document: dict[str, Any], path: tuple[str | int, ...], value: Any) -> Any:
    if not path:
        return copy.deepcopy(value)
    changed = copy.deepcopy(document)
    parent: Any = changed
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(value)
    return changed
