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
from intake.schema_check import compile_check
from intake.schemas import (
    KsValidator,
    is_valid,
    quick_check,
    referencing_validator,
    registry,
    schema_errors,
    validator,
)
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


@pytest.mark.parametrize("meldingstype", MELDINGSTYPER)
def test_the_compiled_check_says_yes_exactly_when_jsonschema_finds_nothing(
    meldingstype: str,
) -> None:
    """`quick_check` answers for a valid document without `jsonschema`; on the example and
    on hundreds of documents one change away from it, its yes is `jsonschema`'s yes."""
    check = quick_check(meldingstype)
    assert check is not None  # every KS schema compiles
    documents = list(_mutants(example(meldingstype)))
    verdicts = [check(mutant) for mutant in documents]
    assert verdicts == [not list(validator(meldingstype).iter_errors(m)) for m in documents]
    assert verdicts.count(True) > 10
    assert verdicts.count(False) > 100


KEYWORD_SCHEMAS: list[Any] = [
    {"type": "integer"},
    {"type": "number"},
    {"type": ["null", "boolean"]},
    {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
    {"items": {"type": "object", "required": ["a"]}, "minItems": 1, "maxItems": 2},
    {"minLength": 2, "pattern": "^\\d+$"},
    {"properties": {"a": {"type": "string"}, "b": False, "c": True}},
    {"properties": {"a": {"$schema": "https://json-schema.org/draft/2019-09/schema"}}},
]
INSTANCES: list[Any] = [
    None, True, False, 0, 1, 1.0, 1.5, -2, "", "1", "12", "١٢", "12\n", "ab",
    [], ["a"], ["a", 1], ["a", 1.0], ["a", True], [{}], [{"a": 1}], [{"a": 1}, {"a": 2}, {"a": 3}],
    {}, {"a": "x"}, {"a": 1}, {"b": None}, {"c": None}, {"A": 1},
]  # fmt: skip


@pytest.mark.parametrize("keyword_schema", KEYWORD_SCHEMAS)
def test_each_compiled_keyword_means_what_it_means_to_jsonschema(keyword_schema: Any) -> None:
    check = compile_check(keyword_schema)
    assert check is not None
    judge = KsValidator(keyword_schema)
    assert [check(i) for i in INSTANCES] == [judge.is_valid(i) for i in INSTANCES]


@pytest.mark.parametrize(
    "uncompiled",
    [
        {"$ref": "#/definitions/a"},
        {"enum": ["a"]},
        {"properties": {"a": {"additionalProperties": False}}},
        {"type": "date"},
        {"properties": {"a": {"$schema": "http://json-schema.org/draft-07/schema#"}}},
        # below its own $schema, jsonschema judges `pattern` by Python's re, not ECMA-262
        {
            "properties": {
                "a": {
                    "$schema": "https://json-schema.org/draft/2019-09/schema",
                    "properties": {"b": {"pattern": "^a$"}},
                }
            }
        },
    ],
)
def test_a_schema_with_anything_else_is_left_to_jsonschema(uncompiled: Any) -> None:
    assert compile_check(uncompiled) is None
