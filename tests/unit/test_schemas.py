"""The acceptance rule: the KS JSON Schemas, draft 2019-09, patterns in ECMA-262."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft201909Validator

from intake.meldingstyper import MELDINGSTYPER, OFFENTLIG_V1, PRIVAT_V2
from intake.problems import json_pointer
from intake.protocol import example, schema
from intake.schemas import is_valid, referencing_validator, registry, schema_errors, validator
from tests.support.reports import document


@pytest.mark.parametrize("meldingstype", MELDINGSTYPER)
def test_every_example_is_valid_and_its_address_references_resolve(meldingstype: str) -> None:
    assert is_valid(meldingstype, example(meldingstype))
    broken = example(meldingstype)
    barn = broken.get("privatBarn") or broken["offentligBarn"]
    barn[0]["adresse"] = {"postnummer": 5003}  # judged by adresse.json, through the $ref
    pointers = [error.pointer for error in schema_errors(meldingstype, broken)]
    barn_key = "privatBarn" if "privatBarn" in broken else "offentligBarn"
    assert pointers == [f"/{barn_key}/0/adresse/adresselinje1", f"/{barn_key}/0/adresse/postnummer"]


@pytest.mark.parametrize(
    ("value", "stock_jsonschema"),
    [("4601\n", True), ("٤٦٠١", True), ("4601", True), ("46O1", False)],
)
def test_patterns_follow_ecma_262_where_pythons_re_differs(
    value: str, stock_jsonschema: bool
) -> None:
    """Stock `jsonschema` uses Python's `re` for `pattern`: there `$` matches before a final
    newline and `\\d` any Unicode digit. JSON Schema names ECMA-262, which refuses both; so
    does intake. Otherwise a report could be routed by "4601\\n"."""
    doc = document(PRIVAT_V2)
    doc["kommunenummer"] = value
    stock = Draft201909Validator(schema(PRIVAT_V2), registry=registry())
    assert stock.is_valid(doc) is stock_jsonschema
    assert is_valid(PRIVAT_V2, doc) is (value == "4601")


def test_format_is_an_annotation() -> None:
    doc = document(OFFENTLIG_V1)
    doc["sendingstidspunkt"] = "not a date"
    assert is_valid(OFFENTLIG_V1, doc)


def test_errors_name_the_rule_never_the_value() -> None:
    doc = document(OFFENTLIG_V1)
    doc["offentligMelder"]["epost"] = "Kanarifugl Testesen"
    doc["foresatte"] = []
    doc["offentligBarn"][1]["ufoedt"] = "Kanarifugl"
    errors = schema_errors(OFFENTLIG_V1, doc, "bekymringsmelding")
    assert [(e.pointer, e.detail.split(" ")[0:3]) for e in errors] == [
        ("/bekymringsmelding/foresatte", ["must", "hold", "at"]),
        ("/bekymringsmelding/offentligBarn/1/ufoedt", ["must", "be", "true"]),
        ("/bekymringsmelding/offentligMelder/epost", ["must", "match", "the"]),
    ]
    assert not any("Kanarifugl" in error.detail for error in errors)


def test_pointers_escape_tilde_and_slash() -> None:
    doc = document(PRIVAT_V2)
    del doc["melding"]
    doc["privatMelder"]["adresse"] = []
    pointers = [e.pointer for e in schema_errors(PRIVAT_V2, doc, "a/b~c")]
    assert pointers == ["/a~1b~0c/melding", "/a~1b~0c/privatMelder/adresse"]


def _mutants(original: Any) -> Iterator[Any]:
    """`original`, then it with one thing changed: each value in turn replaced by each of a
    few of another type or shape, each key removed, an unknown key added to each object."""
    document = original
    yield document
    replacements: list[Any] = [None, 0, 1.5, True, "", "x", "4601\n", [], [{}], {}, {"a": 1}]
    if isinstance(document, dict):
        yield {**document, "ukjentFelt": "x"}
        for key, value in document.items():
            yield {k: v for k, v in document.items() if k != key}
            for other in [*replacements, *_mutants_below(value)]:
                yield {**document, key: other}
    elif isinstance(document, list):
        for index, value in enumerate(document):
            for other in [*replacements, *_mutants_below(value)]:
                yield [*document[:index], other, *document[index + 1 :]]


def _mutants_below(value: Any) -> list[Any]:
    return list(_mutants(value))[1:] if isinstance(value, dict | list) else []


def _verdict(validator: Any, document: Any) -> list[tuple[str, str, str]]:
    return sorted(
        (json_pointer(*error.absolute_path), str(error.validator), error.message)
        for error in validator.iter_errors(document)
    )


@pytest.mark.parametrize("meldingstype", MELDINGSTYPER)
def test_the_inlined_schema_judges_every_document_as_the_published_one(meldingstype: str) -> None:
    """`validator` judges by the schema with its `$ref`s resolved once; on the example and
    on hundreds of documents one change away from it, its errors are the published
    schema's, error for error."""
    published, inlined = referencing_validator(meldingstype), validator(meldingstype)
    assert "$ref" not in json.dumps(inlined.schema)
    documents = list(_mutants(example(meldingstype)))
    assert len(documents) > 200
    for mutant in documents:
        assert _verdict(inlined, mutant) == _verdict(published, mutant)
