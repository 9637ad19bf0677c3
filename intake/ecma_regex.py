"""Regular expressions in the dialect JSON Schema names for `pattern`: ECMA-262.

Python's `re` is not that dialect, and the difference matters for the KS schemas: under `re`,
`^\\d{4}$` matches "1201\\n" (`$` also matches before a final newline) and "١٢٠١" (`\\d` is any
Unicode digit), and `^(.*)$` matches "a\\rb" (`.` matches CR, U+2028 and U+2029). ECMA-262
refuses all three. `regress` is the ECMA-262 engine the `jsonschema` author maintains.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import regress


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> regress.Regex:
    return regress.Regex(pattern)


def searcher(pattern: str) -> Callable[[str], bool]:
    """`search` for one pattern, compiled now."""
    find = _compiled(pattern).find
    return lambda text: find(text) is not None


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches anywhere in `text`, as JSON Schema's `pattern` asks."""
    return _compiled(pattern).find(text) is not None
