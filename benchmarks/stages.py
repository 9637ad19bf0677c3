"""Pure helpers for the stage benchmarks (`stage_latency`, `backlog`, `worker_rss`): per-stage
latencies from the ledger's transition timestamps, rates from event times, a figure beside
its target, and the worker's memory from /proc's text. No I/O here, so the rules have unit
tests (tests/unit/test_bench_stages.py).

A report's stages are the first time it entered each state: RECEIVED -> ROUTED ->
DELIVERING -> DELIVERED -> VERIFIED. A report that went round a retry enters DELIVERING
more than once; the first entry counts, so received -> delivered includes every retry.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from benchmarks.replay import percentile

STAGES = ("RECEIVED", "ROUTED", "DELIVERING", "DELIVERED", "VERIFIED")
KB_PER_MB = 1024


def first_entries(
    rows: Iterable[tuple[str, str, datetime]],
) -> dict[str, dict[str, datetime]]:
    """Report id -> state -> the first time the report entered it, from (report id,
    to_state, at) rows in any order."""
    entries: dict[str, dict[str, datetime]] = {}
    for report_id, state, at in rows:
        states = entries.setdefault(report_id, {})
        if state not in states or at < states[state]:
            states[state] = at
    return entries


def stage_seconds(
    entries: dict[str, dict[str, datetime]],
    start: str,
    end: str,
    reports: Iterable[str] | None = None,
) -> list[float]:
    """Seconds from each report's first `start` to its first `end`, for the reports (all,
    or those named) that reached both."""
    chosen = entries if reports is None else {r: entries.get(r, {}) for r in reports}
    return [
        (states[end] - states[start]).total_seconds()
        for states in chosen.values()
        if start in states and end in states
    ]


def summary(values: Sequence[float], minus: float = 0.0) -> dict[str, Any]:
    """Count, p50, p99 and max of `values` (each less `minus`), in seconds, rounded to ms."""
    if not values:
        return {"count": 0}
    shifted = [value - minus for value in values]
    return {
        "count": len(shifted),
        "p50": round(percentile(shifted, 0.5), 3),
        "p99": round(percentile(shifted, 0.99), 3),
        "max": round(max(shifted), 3),
    }


def stage_summaries(
    entries: dict[str, dict[str, datetime]], reports: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """p50/p99 of each step between consecutive stages, and of received -> delivered and
    received -> verified."""
    chosen = list(entries) if reports is None else list(reports)
    pairs = list(itertools.pairwise(STAGES))
    pairs += [("RECEIVED", "DELIVERED"), ("RECEIVED", "VERIFIED")]
    return {
        f"{start.lower()}_to_{end.lower()}": summary(stage_seconds(entries, start, end, chosen))
        for start, end in pairs
    }


def events_per_second(times: Sequence[datetime], since: datetime | None = None) -> float:
    """The rate of events at `times`: all of them over the time from `since` to the last;
    without `since`, the events after the first over the time from the first to the last.
    0 when there is no time between them."""
    if not times:
        return 0.0
    last = max(times)
    if since is None:
        seconds, count = (last - min(times)).total_seconds(), len(times) - 1
    else:
        seconds, count = (last - since).total_seconds(), len(times)
    return count / seconds if seconds > 0 else 0.0


RULES = {"<": float.__lt__, "<=": float.__le__, ">=": float.__ge__}


def against(measured: float | None, rule: str, target: float) -> dict[str, Any]:
    """A measured figure beside its target and whether it meets it (`rule`: "<", "<=" or
    ">="); nothing measured meets nothing."""
    if measured is None:
        return {"measured": None, "target": f"{rule} {target:g}", "meets": False}
    meets = RULES[rule](float(measured), float(target))
    return {"measured": round(measured, 3), "target": f"{rule} {target:g}", "meets": meets}


def status_rss_kb(status: str) -> int:
    """The resident set size (kB) in the text of /proc/PID/status (0 for a process that has
    none, such as a zombie)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            fields = line.split()
            if len(fields) != 3 or fields[2] != "kB":
                raise ValueError(f"unexpected VmRSS line {line!r}")
            return int(fields[1])
    return 0


def stat_ids(stat: str) -> tuple[int, int, int]:
    """(pid, parent pid, process group) from the text of /proc/PID/stat. The command name
    in parentheses may itself hold spaces and parentheses, so the fields are read after
    its last ')'."""
    head, separator, tail = stat.rpartition(")")
    if not separator:
        raise ValueError("a /proc stat line without the command's ')'")
    pid = int(head.split("(", 1)[0])
    fields = tail.split()  # state, ppid, pgrp, ...
    return pid, int(fields[1]), int(fields[2])


def growth_mb_per_100k(before_kb: int, after_kb: int, reports: int) -> float:
    """Resident memory growth between two readings, scaled to MB per 100,000 reports."""
    if reports <= 0:
        raise ValueError("growth per report needs at least one report")
    return (after_kb - before_kb) / KB_PER_MB * 100_000 / reports
