"""A quick yes for a document its schema accepts: the schema compiled once into plain checks.

`jsonschema` stays the judge of what is wrong with a document (`intake.schemas`); this only
answers "is it valid?" for the common case, a valid report, without building a validator for
every subschema of every document (what `jsonschema` does at each step down, about half of
its time here). A "no" is passed on to `jsonschema`, whose errors are the answer; a "yes"
must be exactly `jsonschema`'s, so only keywords whose meaning is written out below are
compiled, each as `jsonschema` (draft 2019-09, `intake.schemas.KsValidator`) evaluates it:

- `type` (a name or a list of names), with `jsonschema`'s type checker's meaning of each;
- `properties`, `required`, `items` (one schema or a list), `minItems`, `maxItems`,
  `minLength` (on strings, in code points), each ignoring instances of other types;
- `pattern` in ECMA-262 (`intake.ecma_regex`), on strings only;
- `format` as an annotation, and keywords that assert nothing (`title`, `$id`, ...).

Any other keyword, a `$ref`, a subschema naming a `$schema` other than draft 2019-09, or a
`pattern` below a subschema that names its own `$schema` (there `jsonschema` switches to
its stock validator, whose `pattern` is Python's `re`), and the schema is not compiled:
`compile_check` returns None and `jsonschema` answers alone.
`tests/unit/test_schemas.py` holds the two to the same verdicts.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from jsonschema import Draft201909Validator

from intake.ecma_regex import searcher

Check = Callable[[Any], bool]

_DRAFT_201909 = Draft201909Validator.META_SCHEMA["$id"]

# Keywords that assert nothing when validating: annotations, identifiers, definitions (the
# compiled schema has no `$ref` that could reach them), `format` (not asserted by intake).
_SILENT = frozenset(
    {
        "$schema",
        "$id",
        "$anchor",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "definitions",
        "$defs",
        "format",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)


class NotCompiled(Exception):
    """The schema uses something this module does not compile."""


def _is_number(instance: Any) -> bool:
    return isinstance(instance, numbers.Number) and not isinstance(instance, bool)


def _is_integer(instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, float):
        return instance.is_integer()
    return isinstance(instance, int)


# What each type name means, as in jsonschema's draft 2019-09 type checker.
_TYPES: dict[str, Check] = {
    "array": lambda instance: isinstance(instance, list),
    "boolean": lambda instance: isinstance(instance, bool),
    "integer": _is_integer,
    "null": lambda instance: instance is None,
    "number": _is_number,
    "object": lambda instance: isinstance(instance, dict),
    "string": lambda instance: isinstance(instance, str),
}


def compile_check(schema: Any) -> Check | None:
    """A function telling whether an instance is valid against `schema`, or None when the
    schema uses a keyword not compiled here."""
    try:
        return _compiled(schema, below_own_schema=False, root=True)
    except NotCompiled:
        return None


def _compiled(schema: Any, *, below_own_schema: bool, root: bool = False) -> Check:
    if schema is True:
        return lambda _instance: True
    if schema is False:
        return lambda _instance: False
    if not isinstance(schema, dict):
        raise NotCompiled(f"a schema that is a {type(schema).__name__}")
    if not root and "$schema" in schema:
        # jsonschema judges this subschema by the validator its `$schema` names
        if schema["$schema"] != _DRAFT_201909:
            raise NotCompiled(f"a subschema of another dialect, {schema['$schema']!r}")
        below_own_schema = True
    checks = [
        _keyword(keyword, value, below_own_schema)
        for keyword, value in schema.items()
        if keyword not in _SILENT
    ]
    if not checks:
        return lambda _instance: True
    if len(checks) == 1:
        return checks[0]
    all_checks = tuple(checks)

    def every(instance: Any) -> bool:
        for check in all_checks:  # noqa: SIM110  # a loop, not all(): no generator
            if not check(instance):
                return False
        return True

    return every


def _keyword(keyword: str, value: Any, below_own_schema: bool) -> Check:
    if keyword == "type":
        return _type_check(value)
    if keyword == "properties":
        if not isinstance(value, dict):
            raise NotCompiled("properties that are not an object")
        return _properties_check(
            tuple(
                (name, _compiled(sub, below_own_schema=below_own_schema))
                for name, sub in value.items()
            )
        )
    if keyword == "required":
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise NotCompiled("required that is not a list of names")
        names = frozenset(value)
        return lambda instance: not isinstance(instance, dict) or names <= instance.keys()
    if keyword == "items":
        return _items_check(value, below_own_schema)
    if keyword in ("minItems", "maxItems", "minLength"):
        return _size_check(keyword, value)
    if keyword == "pattern":
        if below_own_schema or not isinstance(value, str):
            raise NotCompiled("a pattern not judged by intake's ECMA-262 pattern")
        matches = searcher(value)
        return lambda instance: not isinstance(instance, str) or matches(instance)
    raise NotCompiled(f"the keyword {keyword!r}")


def _type_check(value: Any) -> Check:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(name in _TYPES for name in names):
        raise NotCompiled(f"the type {value!r}")
    if len(names) == 1:
        return _TYPES[names[0]]
    checks = tuple(_TYPES[name] for name in names)
    return lambda instance: any(check(instance) for check in checks)


def _properties_check(properties: tuple[tuple[str, Check], ...]) -> Check:
    def check(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        for name, sub in properties:  # noqa: SIM110  # a loop, not all(): no generator
            if name in instance and not sub(instance[name]):
                return False
        return True

    return check


def _items_check(value: Any, below_own_schema: bool) -> Check:
    if isinstance(value, list):
        prefix = tuple(_compiled(sub, below_own_schema=below_own_schema) for sub in value)
        return lambda instance: (
            not isinstance(instance, list)
            or all(sub(item) for sub, item in zip(prefix, instance, strict=False))
        )
    each = _compiled(value, below_own_schema=below_own_schema)

    def every_item(instance: Any) -> bool:
        if not isinstance(instance, list):
            return True
        for item in instance:  # noqa: SIM110  # a loop, not all(): no generator
            if not each(item):
                return False
        return True

    return every_item


def _size_check(keyword: str, value: Any) -> Check:
    if not isinstance(value, int) or isinstance(value, bool):
        raise NotCompiled(f"{keyword} that is not an integer")
    limit = value
    if keyword == "minItems":
        return lambda instance: not isinstance(instance, list) or len(instance) >= limit
    if keyword == "maxItems":
        return lambda instance: not isinstance(instance, list) or len(instance) <= limit
    return lambda instance: not isinstance(instance, str) or len(instance) >= limit
