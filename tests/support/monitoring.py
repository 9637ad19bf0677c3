"""What the monitoring files under deploy/ may name, and the tools that check them: the
metrics the relay exports, the metric names a PromQL expression refers to, promtool, and
`relay …` commands as the CLI would parse them."""

from __future__ import annotations

import re
import shutil

import click

from relay.cli import main
from tests.support.services import missing

# The metrics the relay exports (docs/observability.md). The metrics code (the collector of
# the ledger's gauges and the processes' counters and histograms) must export exactly these
# names; once it has landed, this tuple is to be read from its registry instead.
EXPORTED_METRICS: tuple[str, ...] = (
    # from the ledger, at scrape time
    "relay_reports",
    "relay_oldest_unverified_seconds",
    "relay_overdue_reports",
    "relay_held_reports",
    "relay_dead_letters",
    "relay_breaker_open",
    "relay_in_flight_deliveries",
    "relay_outbox_unpublished",
    "relay_outbox_oldest_seconds",
    "relay_heartbeat_age_seconds",
    "relay_ledger_scrape_seconds",
    # from the processes
    "relay_delivery_attempts_total",
    "relay_delivery_duration_seconds",
    "relay_intake_requests_total",
    "relay_intake_duration_seconds",
    "relay_readbacks_total",
    "relay_reconciliations_total",
    "relay_false_receipts_total",
    "relay_false_receipt_detection_seconds",
    "relay_alerts_total",
)
HISTOGRAMS = frozenset(
    {
        "relay_delivery_duration_seconds",
        "relay_intake_duration_seconds",
        "relay_false_receipt_detection_seconds",
    }
)
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
