"""What the monitoring files under deploy/ may name, and the tools that check them: the
metrics the relay exports, the metric names a PromQL expression refers to, promtool, and
`relay …` commands as the CLI would parse them."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from typing import Any

import click
from prometheus_client import REGISTRY

from deliverers.metrics import delivery_metrics
from relay.cli import main
from relay.ledger_metrics import LedgerCollector
from relay.process_metrics import alert_metrics, intake_metrics
from tests.support.services import missing


def _exported() -> tuple[tuple[str, ...], frozenset[str]]:
    """Every metric the relay exports, and which are histograms, read from the code itself:
    the processes' counters and histograms (made on first use in the default registry) and
    the ledger collector's gauges (`describe` reads nothing from the ledger)."""
    delivery_metrics(), intake_metrics(), alert_metrics()
    ledger = LedgerCollector(
        _never, limits=_never, recipients=_never, now=lambda: datetime.now(UTC)
    )
    names: list[str] = []
    histograms: set[str] = set()
    for family in [*REGISTRY.collect(), *ledger.describe()]:
        if not family.name.startswith("relay_"):
            continue
        name = f"{family.name}_total" if family.type == "counter" else family.name
        names.append(name)
        if family.type == "histogram":
            histograms.add(name)
    return tuple(names), frozenset(histograms)


def _never() -> Any:
    raise AssertionError("describing the ledger's gauges must not read the ledger")


EXPORTED_METRICS, HISTOGRAMS = _exported()
PROMETHEUS_OWN = frozenset({"up"})  # series Prometheus writes for every target


def queryable_names() -> frozenset[str]:
    """Every series name a query may use: the metrics, a histogram's series, `up`."""
    names = set(EXPORTED_METRICS) - HISTOGRAMS
    for histogram in HISTOGRAMS:
        names |= {f"{histogram}_bucket", f"{histogram}_sum", f"{histogram}_count"}
    return frozenset(names | PROMETHEUS_OWN)


_KEYWORDS = frozenset(
    {"and", "or", "unless", "atan2", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan"}
)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_VARIABLE = re.compile(r"\$\{?\w+\}?")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:]*\s*\()")


def metric_names(expression: str) -> set[str]:
    """The series names a PromQL expression (Grafana variables allowed) selects."""
    text = _STRING.sub('""', expression)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    text = _VARIABLE.sub("", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def promtool() -> str:
    """promtool's path; skips (fails with RELAY_REQUIRE_SERVICES=1) where it is missing."""
    binary = shutil.which("promtool")
    if binary is None:
        missing("promtool", "it is not on PATH (Debian: apt-get install prometheus)")
    assert binary is not None
    return binary


def resolve(arguments: list[str]) -> click.Command:
    """Find `relay …`'s click command and parse its options, as the CLI would at start."""
    command: click.Command = main
    remaining = list(arguments)
    while isinstance(command, click.Group):
        name = remaining.pop(0)
        sub = command.get_command(click.Context(command), name)
        if sub is None:
            raise click.UsageError(f"no relay subcommand {name}")
        command = sub
    command.make_context(command.name or "", remaining)
    return command
