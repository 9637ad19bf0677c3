"""CPU time by process group, from /proc: where a run's CPU went.

Each `relay` process of the test stack runs in its own session (`RelayProcess`), so its
process group holds it and its children (prefork's pool, uvicorn's workers). The servers the
stack talks to are counted by their command name. Linux only: elsewhere every figure is 0.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

SERVERS = ("postgres", "redis-server")


class Process(NamedTuple):
    pid: int
    parent: int
    group: int
    name: str  # the command name
    cpu_seconds: float  # user + system


def processes() -> list[Process]:
    """Every process now, from /proc (none where there is no /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rpartition(")")[2].split()
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        found.append(Process(int(stat.parent.name), int(fields[1]), int(fields[2]), name, cpu))
    return found


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (every core), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def snapshot(groups: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process group (its leader's pid), of the servers in
    SERVERS by name (processes that ended are not counted), and of the machine."""
    totals = dict.fromkeys([*groups, *SERVERS], 0.0)
    by_group = {pgid: name for name, pgid in groups.items()}
    for process in processes():
        if process.group in by_group:
            totals[by_group[process.group]] += process.cpu_seconds
        elif process.name in SERVERS:
            totals[process.name] += process.cpu_seconds
    totals["machine"] = machine_cpu_seconds()
    return totals


def per_item_ms(
    before: Mapping[str, float], after: Mapping[str, float], items: int
) -> dict[str, float]:
    """Milliseconds of CPU per item spent by each entry between two snapshots; `other` is
    the machine's busy time no entry accounts for (this benchmark itself, the kernel, ...)."""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    accounted = sum(value for name, value in spent.items() if name != "machine")
    spent["other"] = spent["machine"] - accounted
    return {name: round(1000 * value / max(items, 1), 2) for name, value in spent.items()}
