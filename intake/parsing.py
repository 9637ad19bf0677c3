"""Turning request bytes into a JSON object, refusing anything a careful parser should refuse.

Refused: invalid UTF-8, duplicate keys, NaN/Infinity, numbers that overflow, lone
surrogates, nesting deeper than `MAX_DEPTH`, and anything but an object at the top.
"""

from __future__ import annotations

import json
import math
from typing import Any

from intake.problems import Problem

MAX_DEPTH = 64


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number is too large")
    return value


def _bad_json(detail: str) -> Problem:
    return Problem(400, "invalid-json", "The body is not valid JSON", detail)


def _nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside strings, found without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object. Raises `Problem` (400)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_json(f"the body is not UTF-8 (byte {error.start})") from None
    if text.startswith("\ufeff"):
        raise _bad_json("the body starts with a byte order mark")
    if _nesting_depth(text) > MAX_DEPTH:
        raise _bad_json(f"the body is nested deeper than {MAX_DEPTH} levels")
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
    except ValueError:  # int() refusing more than sys.get_int_max_str_digits() digits
        raise _bad_json("a number has too many digits") from None
    if not isinstance(value, dict):
        raise _bad_json(f"the body must be a JSON object, not {type(value).__name__}")
    return value


def canonical_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON in the order given. Raises `Problem` for lone surrogates."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_json("a string holds a lone surrogate (not valid Unicode)") from None
