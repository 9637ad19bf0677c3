"""Pure helpers for the ratio benchmarks: turn the statements one intake issued (captured on
the real path) into a pgbench script or a per-transaction parameter set, and read the
numbers back. No I/O here, so the rules have unit tests (tests/unit/test_bench_replay.py).

A captured transaction is a list of steps: "BEGIN", "COMMIT" or one SQL statement. Values
that must differ per replayed transaction (the report id, the Idempotency-Key: primary and
unique keys) are named by the caller; every other value is replayed as captured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SUFFIX_DIGITS = 12  # the varying tail of each unique value: 12 hex digits, 2**48 values
_LITERAL = re.compile(r"(?<![A-Za-z0-9_])([Ee]?)'((?:[^']|'')*)'")
_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


def ratio(measured: float, limit: float) -> float:
    """`measured` as a share of `limit` (0 when the limit is 0: nothing to compare with)."""
    return measured / limit if limit > 0 else 0.0


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def sql_string(value: str) -> str:
    """`value` as a standard SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def fresh_value(value: str, suffix: str) -> str:
    """`value` with its last SUFFIX_DIGITS characters replaced by `suffix` (same length)."""
    if len(value) < SUFFIX_DIGITS:
        raise ValueError(f"a varying value needs at least {SUFFIX_DIGITS} characters")
    return value[:-SUFFIX_DIGITS] + suffix.rjust(SUFFIX_DIGITS, "0")[-SUFFIX_DIGITS:]


def pgbench_script(steps: Sequence[str], varying: Sequence[str]) -> str:
    """A pgbench script that replays `steps` once per transaction, each literal that equals
    one of `varying` replaced by the same value with a random 48-bit hex tail, drawn once
    per transaction (so one report's statements agree on its id)."""
    lines = [f"\\set v{n} random(1, {16**SUFFIX_DIGITS - 1})" for n in range(len(varying))]
    for step in steps:
        statement = step.strip().rstrip(";")
        for n, value in enumerate(varying):
            head = sql_string(value[:-SUFFIX_DIGITS])
            expression = f"({head} || lpad(to_hex(:v{n}::bigint), {SUFFIX_DIGITS}, '0'))"
            statement = statement.replace(sql_string(value), expression)
        lines.append(" ".join(_LITERAL.sub(_colon_free, statement).split("\n")) + ";")
    return "\n".join(lines) + "\n"


def _colon_free(literal: re.Match[str]) -> str:
    """A string literal without ':' (pgbench takes `:name` anywhere, even in a literal, for
    a variable): the same value as an escape string, each ':' written `\\x3a`."""
    escape, content = literal.groups()
    if ":" not in content:
        return literal.group(0)
    if not escape:
        content = content.replace("\\", "\\\\")
    return "E'" + content.replace(":", "\\x3a") + "'"


def fresh_parameters(parameters: object, varying: dict[str, str]) -> object:
    """`parameters` (a tuple, list or dict of one statement) with each value that equals a
    key of `varying` replaced by its fresh value; everything else as captured."""
    if isinstance(parameters, dict):
        return {name: _fresh(value, varying) for name, value in parameters.items()}
    if isinstance(parameters, list | tuple):
        return type(parameters)(_fresh(value, varying) for value in parameters)
    return parameters


def _fresh(value: object, varying: dict[str, str]) -> object:
    return varying[value] if isinstance(value, str) and value in varying else value


def pgbench_tps(output: str) -> float:
    """The transactions per second pgbench printed (without connection time)."""
    found = _TPS.search(output)
    if found is None:
        raise ValueError("pgbench printed no 'tps = … (without initial connection time)' line")
    return float(found.group(1))
