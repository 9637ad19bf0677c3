"""The rule of acceptance: a document is accepted exactly when it is valid against its type's
JSON Schema (draft 2019-09, `format` as an annotation, `pattern` in the ECMA-262 dialect).

The `$ref`s to the address schema are relative paths that resolve, against each schema's
`$id`, to `https://fiks.ks.no/adresse.json`; the address schema itself declares another
`$id`. The registry serves it under both, so every reference resolves offline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft201909Validator, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

from intake.ecma_regex import search
from intake.meldingstyper import MELDINGSTYPER
from intake.problems import FieldError, json_pointer
from intake.protocol import adresse_schema, example, schema
from intake.schema_check import Check, compile_check

log = logging.getLogger(__name__)

ADRESSE_URI = "https://fiks.ks.no/adresse.json"
MAX_REFERENCE_DEPTH = 16
TYPE_NAMES = {
    "string": "a string",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
}


def ecma_pattern(
    validator: Validator, pattern: str, instance: Any, _schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"does not match {pattern!r}")


KsValidator: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft201909Validator, {"pattern": ecma_pattern}
)


@cache
def registry() -> Registry[Any]:
    adresse = Resource.from_contents(adresse_schema(), default_specification=DRAFT201909)
    own_id = adresse.id()
    assert own_id is not None
    return Registry().with_resources([(ADRESSE_URI, adresse), (own_id, adresse)]).crawl()


def referencing_validator(meldingstype: str) -> Validator:
    """The validator for a message type's schema as published, `$ref`s and all."""
    return KsValidator(schema(meldingstype), registry=registry())


@cache
def validator(meldingstype: str) -> Validator:
    """The validator for a message type's document. `format` is not asserted.

    It judges by the schema with every `$ref` replaced by what it points at (`inlined`),
    resolved once here rather than at every use (a third of validation's time);
    `tests/unit/test_schemas.py` holds it to the same answers as `referencing_validator`."""
    return KsValidator(inlined_schema(meldingstype), registry=registry())


def inlined_schema(meldingstype: str) -> dict[str, Any]:
    published = schema(meldingstype)
    uri = published["$id"]
    resource = Resource.from_contents(published, default_specification=DRAFT201909)
    resolver = registry().with_resource(uri, resource).resolver(base_uri=uri)
    result: dict[str, Any] = inlined(published, resolver)
    return result


def inlined(node: Any, resolver: Any, depth: int = 0) -> Any:
    """`node` with each `{"$ref": …}` replaced by its target (itself inlined); a `$ref`
    beside other keywords becomes `allOf` with them, as draft 2019-09 evaluates both. The
    schemas' references do not recur (`MAX_REFERENCE_DEPTH` says so if one ever does)."""
    if depth > MAX_REFERENCE_DEPTH:
        raise ValueError("a $ref in the schemas refers back to itself")
    if isinstance(node, list):
        return [inlined(item, resolver, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" not in node:
        return {key: inlined(value, resolver, depth) for key, value in node.items()}
    found = resolver.lookup(node["$ref"])
    target = inlined(found.contents, found.resolver, depth + 1)
    beside = {key: inlined(value, resolver, depth) for key, value in node.items() if key != "$ref"}
    return {"allOf": [target], **beside} if beside else target


@cache
def quick_check(meldingstype: str) -> Check | None:
    """The compiled yes-or-no for a message type's inlined schema (`intake.schema_check`),
    or None if it could not be compiled; `tests/unit/test_schemas.py` holds it to
    `validator`'s verdicts."""
    return compile_check(inlined_schema(meldingstype))


def is_valid(meldingstype: str, document: Any) -> bool:
    check = quick_check(meldingstype)
    if check is not None and check(document):
        return True
    return bool(validator(meldingstype).is_valid(document))


def schema_errors(meldingstype: str, document: Any, *at: str | int) -> list[FieldError]:
    """One error per failing field, its pointer prefixed by `at` (where the document sits).

    The details name the rule, never the value: the value may be a name or an fnr. A
    document the compiled check accepts has none; any other is judged by `validator`.
    """
    check = quick_check(meldingstype)
    if check is not None and check(document):
        return []
    found: dict[str, str] = {}
    for error in validator(meldingstype).iter_errors(document):
        for pointer, detail in _field_errors(error, at):
            found.setdefault(pointer, detail)
    return [FieldError(pointer, detail) for pointer, detail in sorted(found.items())]


def _field_errors(error: ValidationError, at: tuple[str | int, ...]) -> list[tuple[str, str]]:
    path = (*at, *error.absolute_path)
    keyword = error.validator
    if keyword == "required" and isinstance(error.validator_value, list):
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in error.validator_value if name not in instance]
        return [(json_pointer(*path, name), "is required") for name in missing]
    return [(json_pointer(*path), _detail(str(keyword), error.validator_value))]


def _detail(keyword: str, rule: Any) -> str:
    if keyword == "type":
        return f"must be {TYPE_NAMES.get(str(rule), str(rule))}"
    if keyword == "pattern":
        return f"must match the pattern {rule}"
    if keyword == "minItems":
        return f"must hold at least {rule} item{'s' if rule != 1 else ''}"
    if keyword == "maxItems":
        return f"must hold at most {rule} item{'s' if rule != 1 else ''}"
    return f"does not satisfy the schema rule {keyword!r}"


def check_all_schemas() -> None:
    """Fail now, not at the first report, if a schema or one of its references is broken:
    each schema must be a valid schema and accept the protocol's own example."""
    for meldingstype in MELDINGSTYPER:
        KsValidator.check_schema(schema(meldingstype))
        KsValidator.check_schema(inlined_schema(meldingstype))
        validator(meldingstype).validate(example(meldingstype))
        if quick_check(meldingstype) is None:
            log.warning("the %s schema is judged without its compiled check", meldingstype)
