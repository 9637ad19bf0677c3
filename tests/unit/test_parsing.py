"""Strict JSON parsing of request bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.parsing import MAX_DEPTH, canonical_bytes, parse_json_object, too_deep
from intake.problems import Problem
from tests.support.profiles import examples


def refusal(raw: bytes) -> Problem:
    with pytest.raises(Problem) as refused:
        parse_json_object(raw)
    assert refused.value.status == 400
    return refused.value


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\a'), children, max_size=3)
    ),
    max_leaves=80,
)


@settings(max_examples=examples(300))
@given(json_values, st.integers(0, 8))
def test_too_deep_agrees_with_the_depth_of_the_parsed_value(value: Any, limit: int) -> None:
    text = json.dumps(value)
    assert too_deep(text, limit) == (reference_depth(value) > limit)


def test_depth_is_counted_outside_strings_only() -> None:
    brackets_in_a_string = json.dumps({"melding": "[" * 1000 + "{" * 1000})
    assert not too_deep(brackets_in_a_string)
    assert parse_json_object(brackets_in_a_string.encode())["melding"].startswith("[[")


def test_the_limit_is_inclusive() -> None:
    at_limit = '{"a":' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    parse_json_object(at_limit.encode())
    refusal(('{"a":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}").encode())


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"a": "\xc3"}', "not UTF-8"),
        (b'\xef\xbb\xbf{"a": 1}', "byte order mark"),
        (b'{"a": 1, "a": 1}', "same key twice"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "-Infinity"),
        (b'{"a": 1e999}', "too large"),
        (b'{"a": ' + b"1" * 5000 + b"}", "too many digits"),
        (b"[" * 100_000, "nested deeper"),
        (b'["a"]', "not an array"),
        (b'"a"', "not a string"),
        (b"true", "not true"),
        (b"{", "Expecting"),
    ],
)
def test_refusals_say_what_is_wrong(raw: bytes, words: str) -> None:
    assert words in refusal(raw).detail


def test_nul_is_refused_and_pointed_at_in_keys_and_values() -> None:
    value = refusal(b'{"a": [1, {"b": "x\\u0000"}]}')
    assert value.slug == "nul-character"
    assert [(e.pointer, e.detail) for e in value.errors] == [("/a/1/b", "this string holds U+0000")]
    key = refusal(b'{"a": {"\\u0000": 1}}')
    assert [e.pointer for e in key.errors] == ["/a"]


def test_an_escaped_backslash_before_u0000_is_no_nul() -> None:
    assert parse_json_object(b'{"a": "\\\\u0000"}') == {"a": "\\u0000"}


def test_a_lone_surrogate_is_refused_and_a_pair_is_not() -> None:
    assert refusal(b'{"a": "\\ud83d"}').errors[0].pointer == "/a"
    assert parse_json_object(b'{"a": "\\ud83d\\udc76"}') == {"a": "👶"}


def test_canonical_bytes_keep_order_unknown_fields_and_every_string() -> None:
    raw = '{"z": 1, "a": {"ukjent": [true, null]}, "t": "æøå 👶🏽 مرحبا \\u2028 \\"q\\""}'
    parsed = parse_json_object(raw.encode())
    stored = canonical_bytes(parsed)
    assert json.loads(stored) == json.loads(raw)
    assert list(json.loads(stored)) == ["z", "a", "t"]
    assert "æøå 👶🏽 مرحبا".encode() in stored
