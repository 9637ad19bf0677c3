"""The pure rules the ratio benchmarks replay captured statements by."""

from __future__ import annotations

import pytest

from benchmarks.load import wrk_result
from benchmarks.replay import (
    fresh_parameters,
    fresh_value,
    percentile,
    pgbench_script,
    pgbench_tps,
    ratio,
)

ID = "1649059e-09c2-47df-8b87-0123456789ab"
KEY = "bench-capture-ffffffffffff"


@pytest.mark.parametrize(
    ("measured", "limit", "expected"),
    [(50, 200, 0.25), (0, 100, 0.0), (10, 0, 0.0), (300, 100, 3.0)],
)
def test_ratio(measured: float, limit: float, expected: float) -> None:
    assert ratio(measured, limit) == expected


@pytest.mark.parametrize(
    ("values", "share", "expected"),
    [([3.0], 0.99, 3.0), ([1, 2, 3, 4, 5], 0.5, 3), ([5, 1, 4, 2, 3], 0.0, 1), ([1, 9], 1.0, 9)],
)
def test_percentile(values: list[float], share: float, expected: float) -> None:
    assert percentile(values, share) == expected


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


@pytest.mark.parametrize(
    ("value", "suffix", "expected"),
    [
        (ID, "1", "1649059e-09c2-47df-8b87-000000000001"),
        (KEY, "abc", "bench-capture-000000000abc"),
        (KEY, "1234567890abcd", "bench-capture-34567890abcd"),
    ],
)
def test_fresh_value_keeps_the_length(value: str, suffix: str, expected: str) -> None:
    assert fresh_value(value, suffix) == expected
    assert len(fresh_value(value, suffix)) == len(value)


def test_a_short_value_cannot_vary() -> None:
    with pytest.raises(ValueError, match="12 characters"):
        fresh_value("short", "1")


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("BEGIN", "BEGIN;"),
        ("COMMIT;", "COMMIT;"),
        (
            f"DELETE FROM t WHERE id = '{ID}'::VARCHAR",
            "DELETE FROM t WHERE id = ('1649059e-09c2-47df-8b87-' || "
            "lpad(to_hex(:v0::bigint), 12, '0'))::VARCHAR;",
        ),
        (
            f"SELECT 1 FROM k WHERE key = '{KEY}'",
            "SELECT 1 FROM k WHERE key = ('bench-capture-' || lpad(to_hex(:v1::bigint), 12, '0'));",
        ),
        (  # a value inside a longer literal is not a key: replayed as captured
            f"SELECT 'x{ID}'",
            f"SELECT 'x{ID}';",
        ),
        (  # pgbench would take ':02' for a variable: written as an escape
            "SELECT '2026-11-26 19:02:07'::timestamp",
            "SELECT E'2026-11-26 19\\x3a02\\x3a07'::timestamp;",
        ),
        (  # a backslash in a standard literal stays one character of the value
            "SELECT 'a\\b:c', '\\x01ff'::bytea",
            "SELECT E'a\\\\b\\x3ac', '\\x01ff'::bytea;",
        ),
        ("SELECT E'a\\nb:c'", "SELECT E'a\\nb\\x3ac';"),
        ("SELECT 'it''s: 1'", "SELECT E'it''s\\x3a 1';"),
        ("SELECT\n  1", "SELECT   1;"),
    ],
)
def test_pgbench_script_lines(step: str, expected: str) -> None:
    script = pgbench_script([step], [ID, KEY]).splitlines()
    assert script[:2] == [
        "\\set v0 random(1, 281474976710655)",
        "\\set v1 random(1, 281474976710655)",
    ]
    assert script[2:] == [expected]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ((ID, 1, b"x", None), ("new-id", 1, b"x", None)),
        ([KEY, ID], ["new-key", "new-id"]),
        ({"a": ID, "b": [ID], "c": "other"}, {"a": "new-id", "b": [ID], "c": "other"}),
        ((), ()),
        (None, None),
    ],
)
def test_fresh_parameters(parameters: object, expected: object) -> None:
    assert fresh_parameters(parameters, {ID: "new-id", KEY: "new-key"}) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "latency average = 13.4 ms\ntps = 2383.812345 (without initial connection time)\n",
            2383.812345,
        ),
        ("tps = 12 (without initial connection time)", 12.0),
    ],
)
def test_pgbench_tps(output: str, expected: float) -> None:
    assert pgbench_tps(output) == expected


def test_pgbench_output_without_tps_is_an_error() -> None:
    with pytest.raises(ValueError, match="tps"):
        pgbench_tps("pgbench: error: connection to server failed")


WRK_LINE = (
    'WRK_RESULT {"sent": 10, "accepted": 9, "other_status": 0, "duration_us": 2000000,'
    ' "connect_errors": 0, "read_errors": 0, "write_errors": 0, "timeouts": 0,'
    ' "p50_us": 1500, "p99_us": 9000}'
)


@pytest.mark.parametrize(
    ("output", "accepted"),
    [
        (f"Running 2s test @ http://127.0.0.1:1/v1/reports\n{WRK_LINE}\n", 9),
        (f"{WRK_LINE}\nRequests/sec: 4.50\n", 9),
    ],
)
def test_wrk_result(output: str, accepted: int) -> None:
    assert wrk_result(output)["accepted"] == accepted


def test_wrk_output_without_the_result_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="no result line"):
        wrk_result("Running 2s test\nRequests/sec: 4.50\n")
