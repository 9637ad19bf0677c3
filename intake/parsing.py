"""Turning request bytes into a JSON object, refusing anything a careful parser should refuse.

Refused (400): invalid UTF-8, a byte order mark, duplicate keys, NaN/Infinity, numbers that
overflow or have more digits than Python converts, nesting deeper than `MAX_DEPTH`, strings
holding U+0000 or a lone surrogate, and anything but an object at the top.

U+0000 is refused although JSON allows it: it is never part of a real report, and neither
PostgreSQL text nor most case systems can store it, so accepting it would mean accepting a
report that cannot be delivered as sent.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from intake.problems import FieldError, Problem, json_pointer

MAX_DEPTH = 64

# A string token of a valid JSON text, and the escapes that may decode to NUL or a surrogate.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("an object has the same key twice")
    return result


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number is too large")
    return value


def _bad_json(detail: str, errors: list[FieldError] | None = None) -> Problem:
    return Problem(400, "invalid-json", "The body is not valid JSON", detail, errors or [])


def too_deep(valid_json: str, limit: int = MAX_DEPTH) -> bool:
    """Whether the brackets of a valid JSON text nest deeper than `limit`.

    A text with no more opening brackets than the limit cannot (the common case, answered by
    counting); for the others the strings are cut out and the brackets summed, in C (re,
    itertools) rather than a Python loop over every character. The text must be valid JSON
    (parsed already): then every quote pairs up and the string pattern runs in linear time.
    """
    if valid_json.count("[") + valid_json.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", valid_json))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object. Raises `Problem` (400)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_json(f"the body is not UTF-8 (byte {error.start})") from None
    if text.startswith("\ufeff"):
        raise _bad_json("the body starts with a byte order mark")
    too_deep_problem = _bad_json(f"the body is nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except _Refused as error:
        raise _bad_json(str(error)) from None
    except json.JSONDecodeError as error:
        raise _bad_json(f"{error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:  # the C parser's own guard, about a thousand levels down
        raise too_deep_problem from None
    except ValueError:  # int() refusing more than sys.get_int_max_str_digits() digits
        raise _bad_json("a number has too many digits") from None
    if too_deep(text):
        raise too_deep_problem
    if not isinstance(value, dict):
        raise _bad_json(f"the body must be a JSON object, not {_json_type(value)}")
    if _SUSPECT_ESCAPE.search(text):
        _refuse_unstorable_strings(value)
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def _refuse_unstorable_strings(value: Any) -> None:
    """Refuse U+0000 and lone surrogates anywhere, keys included, naming where."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        children: list[tuple[str | int, Any]] = []
        if isinstance(item, dict):
            for key, child in item.items():
                _check_string(key, path, "a key here")
                children.append((key, child))
        elif isinstance(item, list):
            children = list(enumerate(item))
        elif isinstance(item, str):
            _check_string(item, path, "this string")
        stack.extend(((*path, step), child) for step, child in children)


def _check_string(text: str, path: tuple[str | int, ...], what: str) -> None:
    if "\x00" in text:
        raise Problem(
            400,
            "nul-character",
            "The body holds a NUL character",
            "U+0000 cannot be stored and is never part of a report",
            [FieldError(json_pointer(*path), f"{what} holds U+0000")],
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_json(
            "a string holds a lone surrogate (not valid Unicode)",
            [FieldError(json_pointer(*path), f"{what} holds a lone surrogate")],
        ) from None


def canonical_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON with the keys in the order given and every string as it was.

    Numbers are written in Python's shortest round-trip form (`1e2` becomes `100.0`): the
    same value for any reader, though not always the same characters.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
