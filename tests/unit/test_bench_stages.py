"""The pure rules the stage benchmarks compute latencies, rates and memory growth by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.stages import (
    against,
    events_per_second,
    first_entries,
    growth_mb_per_100k,
    stage_seconds,
    stage_summaries,
    stat_ids,
    status_rss_kb,
    summary,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# r1 went round one retry: it entered DELIVERING twice; r2 is still on its way.
ROWS = [
    ("r1", "RECEIVED", at(0)),
    ("r1", "ROUTED", at(0.5)),
    ("r1", "DELIVERING", at(0.6)),
    ("r1", "RETRY_SCHEDULED", at(0.7)),
    ("r1", "ROUTED", at(5.0)),
    ("r1", "DELIVERING", at(5.1)),
    ("r1", "DELIVERED", at(5.3)),
    ("r1", "VERIFIED", at(6.5)),
    ("r2", "ROUTED", at(1.25)),
    ("r2", "RECEIVED", at(1.0)),
]


def test_first_entries_keep_the_first_time_each_state_was_entered() -> None:
    entries = first_entries(reversed(ROWS))
    assert entries["r1"]["ROUTED"] == at(0.5)
    assert entries["r1"]["DELIVERING"] == at(0.6)
    assert entries["r2"] == {"RECEIVED": at(1.0), "ROUTED": at(1.25)}


@pytest.mark.parametrize(
    ("start", "end", "reports", "expected"),
    [
        ("RECEIVED", "ROUTED", None, [0.5, 0.25]),
        ("RECEIVED", "DELIVERED", None, [5.3]),  # r2 has not been delivered: left out
        ("DELIVERED", "VERIFIED", None, [1.2]),
        ("RECEIVED", "ROUTED", ["r2"], [0.25]),
        ("RECEIVED", "ROUTED", ["r9"], []),  # a report the ledger does not have
    ],
)
def test_stage_seconds(
    start: str, end: str, reports: list[str] | None, expected: list[float]
) -> None:
    found = stage_seconds(first_entries(ROWS), start, end, reports)
    assert found == pytest.approx(expected)


def test_stage_summaries_name_each_step_and_the_totals() -> None:
    summaries = stage_summaries(first_entries(ROWS))
    assert list(summaries) == [
        "received_to_routed",
        "routed_to_delivering",
        "delivering_to_delivered",
        "delivered_to_verified",
        "received_to_delivered",
        "received_to_verified",
    ]
    assert summaries["delivering_to_delivered"]["p50"] == pytest.approx(4.7)
    assert summaries["received_to_verified"] == {"count": 1, "p50": 6.5, "p99": 6.5, "max": 6.5}


@pytest.mark.parametrize(
    ("values", "minus", "expected"),
    [
        ([], 0.0, {"count": 0}),
        ([0.1], 0.0, {"count": 1, "p50": 0.1, "p99": 0.1, "max": 0.1}),
        ([1.1, 1.3, 1.2], 1.0, {"count": 3, "p50": 0.2, "p99": 0.3, "max": 0.3}),
        (list(range(1, 101)), 0.0, {"count": 100, "p50": 51, "p99": 99, "max": 100}),
    ],
)
def test_summary(values: list[float], minus: float, expected: dict[str, float]) -> None:
    assert summary(values, minus) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("times", "since", "expected"),
    [
        ([], None, 0.0),
        ([at(3)], None, 0.0),  # one event: no time between events
        ([at(0), at(1), at(2)], None, 1.0),  # two events after the first, in two seconds
        ([at(2), at(0), at(4)], None, 0.5),
        ([at(1), at(2), at(3), at(4)], at(0), 1.0),  # four events from `since` to the last
        ([at(10)], at(10), 0.0),
    ],
)
def test_events_per_second(times: list[datetime], since: datetime | None, expected: float) -> None:
    assert events_per_second(times, since) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("measured", "rule", "target", "meets"),
    [
        (0.1, "<", 0.15, True),
        (0.15, "<", 0.15, False),
        (0.2, "<=", 0.2, True),
        (0.21, "<=", 0.2, False),
        (0.8, ">=", 0.8, True),
        (0.79, ">=", 0.8, False),
        (None, "<", 2.0, False),  # nothing measured meets nothing
    ],
)
def test_against(measured: float | None, rule: str, target: float, meets: bool) -> None:
    judged = against(measured, rule, target)
    assert judged["meets"] is meets
    assert judged["target"] == f"{rule} {target:g}"


STATUS = "Name:\tcelery\nState:\tS (sleeping)\nVmPeak:\t  300000 kB\nVmRSS:\t   81234 kB\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [(STATUS, 81234), ("Name:\tzombie\nState:\tZ (zombie)\n", 0)],
)
def test_status_rss_kb(text: str, expected: int) -> None:
    assert status_rss_kb(text) == expected


def test_status_rss_in_another_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="VmRSS"):
        status_rss_kb("VmRSS:\t81234 MB\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4242 (python) S 4200 4242 4242 0 -1 4194560 ...", (4242, 4200, 4242)),
        ("4250 (celery (pool) x) R 4242 4242 4242 0", (4250, 4242, 4242)),
        ("17 (a b)) S 1 17 17", (17, 1, 17)),
    ],
)
def test_stat_ids(text: str, expected: tuple[int, int, int]) -> None:
    assert stat_ids(text) == expected


@pytest.mark.parametrize(
    ("before", "after", "reports", "expected"),
    [
        (100 * 1024, 105 * 1024, 10_000, 50.0),
        (100 * 1024, 100 * 1024, 2_000, 0.0),
        (200 * 1024, 190 * 1024, 100_000, -10.0),  # a worker can give memory back
    ],
)
def test_growth_mb_per_100k(before: int, after: int, reports: int, expected: float) -> None:
    assert growth_mb_per_100k(before, after, reports) == pytest.approx(expected)


def test_growth_per_no_reports_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one report"):
        growth_mb_per_100k(1, 2, 0)
