"""The OpenAPI document describes the contract: every status, every body, the same rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from intake.meldingstyper import MELDINGSTYPER
from intake.openapi import openapi_document
from intake.protocol import example
from intake.schemas import ecma_pattern, is_valid
from tests.support.documents import VALID_DOCUMENTS, mutated
from tests.support.profiles import examples

DOCUMENT = openapi_document("intake", "1", "test")
OpenApiValidator = validators.extend(Draft202012Validator, {"pattern": ecma_pattern})
REGISTRY = Registry().with_resource(
    "urn:intake-openapi", Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)


def component(name: str) -> Any:
    reference = {"$ref": f"urn:intake-openapi#/components/schemas/{name}"}
    return OpenApiValidator(reference, registry=REGISTRY)


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in references(value)]
    if isinstance(node, list):
        return [r for item in node for r in references(item)]
    return []


def test_every_reference_points_into_the_document() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    found = references(DOCUMENT)
    assert found
    for reference in found:
        assert reference.startswith("#/components/schemas/")
        assert reference.removeprefix("#/components/schemas/") in schemas


def test_every_status_of_the_contract_is_described() -> None:
    submit = DOCUMENT["paths"]["/v1/reports"]["post"]["responses"]
    status = DOCUMENT["paths"]["/v1/reports/{report_id}"]["get"]["responses"]
    assert set(submit) == {"202", "400", "401", "409", "413", "415", "422", "503"}
    assert set(status) == {"200", "401", "404", "503"}
    for code, response in [*submit.items(), *status.items()]:
        media = "application/json" if code.startswith("2") else "application/problem+json"
        assert list(response["content"]) == [media]
    assert submit["401"]["headers"]["WWW-Authenticate"]["required"]
    assert submit["503"]["headers"]["Retry-After"]["required"]
    assert submit["202"]["headers"]["Location"]["required"]


def test_meldingstype_is_an_enum_of_the_four_types() -> None:
    submission = DOCUMENT["components"]["schemas"]["Submission"]
    assert set(submission["discriminator"]["mapping"]) == set(MELDINGSTYPER)
    assert len(submission["oneOf"]) == 4


@pytest.mark.parametrize("meldingstype", MELDINGSTYPER)
def test_every_example_is_a_valid_request_body(meldingstype: str) -> None:
    body = {"meldingstype": meldingstype, "bekymringsmelding": example(meldingstype)}
    assert component("Submission").is_valid(body)
    assert not component("Submission").is_valid({**body, "meldingstype": "x"})


@pytest.mark.parametrize("meldingstype", MELDINGSTYPER)
def test_the_request_schema_judges_documents_as_intake_does(meldingstype: str) -> None:
    validator = component("Submission")

    @settings(
        max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(mutated(VALID_DOCUMENTS[meldingstype]))
    def check(document: Any) -> None:
        body = {"meldingstype": meldingstype, "bekymringsmelding": document}
        assert validator.is_valid(body) == is_valid(meldingstype, document)

    check()
