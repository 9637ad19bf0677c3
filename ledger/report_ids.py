"""A report named by a unique prefix of its id, as operators type them: at least
`MIN_PREFIX` characters, so that a prefix does not come to name another report as more
arrive. Pure but for the one query it is given."""

from __future__ import annotations

from collections.abc import Callable

MIN_PREFIX = 8
SHOWN = 3  # candidates named when a prefix is ambiguous


class ReportIdError(Exception):
    """A given id names no report, or more than one; the message is one line for people."""


def full_report_id(given: str, starting_with: Callable[[str, int], list[str]]) -> str:
    """The one report id that is `given` or begins with it; `starting_with(prefix, limit)`
    lists ids that begin with a prefix. Raises `ReportIdError`."""
    given = given.strip()
    if len(given) < MIN_PREFIX:
        raise ReportIdError(
            f"report id {given!r} is too short: give at least {MIN_PREFIX} characters of it"
        )
    found = starting_with(given, SHOWN + 1)
    if given in found:
        return given
    if not found:
        raise ReportIdError(f"no report id begins with {given}")
    if len(found) > 1:
        named = ", ".join(found[:SHOWN]) + (", …" if len(found) > SHOWN else "")
        raise ReportIdError(
            f"{given} begins {'more than ' if len(found) > SHOWN else ''}{min(len(found), SHOWN)}"
            f" report ids ({named}): give more of the id"
        )
    return found[0]
