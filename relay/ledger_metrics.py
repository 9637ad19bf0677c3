"""The ledger's gauges, read at scrape time by a Prometheus collector: every process that
serves them tells the same numbers, and a restart loses none (the ledger keeps them).

Each scrape is one unit of work with a few grouped, indexed queries (`ledger.summary`).
Every recipient in the routes file has every series, at 0 when there is nothing to count,
so that a gauge falls to 0 rather than vanishing. Reports not yet routed carry an empty
recipient. When the ledger cannot be read the gauges are left out of that scrape (a
warning is logged) and `relay_ledger_scrape_seconds` with them; the rest of the scrape
still answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from ledger.alerts import OverdueLimits
from ledger.lifecycle import IN_FLIGHT, State
from ledger.records import DeadLetterKind
from ledger.summary import LedgerSummary
from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

NOT_ROUTED = ""  # the recipient label of reports without one


class LedgerCollector(Collector):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        limits: Callable[[], OverdueLimits],
        recipients: Callable[[], Iterable[str]],
        now: Callable[[], datetime],
    ) -> None:
        self._uow = uow_factory
        self._limits = limits
        self._recipients = recipients
        self._now = now

    def describe(self) -> Iterator[Metric]:
        """The names only: registering the collector reads nothing from the ledger."""
        return iter(_families().values())

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        now = self._now()
        try:
            with self._uow() as uow:
                summary = uow.summary.summary(self._limits(), now)
        except SQLAlchemyError as error:
            log.warning("ledger metrics left out of this scrape: %s", type(error).__name__)
            return iter(())
        families = _families()
        _fill(families, summary, sorted(self._recipients()), now)
        families["scrape"].add_metric([], time.perf_counter() - started)
        return iter(families.values())


def _families() -> dict[str, GaugeMetricFamily]:
    def gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, labels=labels)

    recipient = ["recipient"]
    return {
        "reports": gauge("relay_reports", "Reports by lifecycle state.", ["state", *recipient]),
        "oldest": gauge(
            "relay_oldest_unverified_seconds",
            "Age of the oldest report neither VERIFIED nor resolved by hand (0: none).",
            recipient,
        ),
        "overdue": gauge(
            "relay_overdue_reports",
            "Reports not VERIFIED within the overdue limit (RELAY_OVERDUE_AFTER_SECONDS, or "
            "the recipient's own).",
            recipient,
        ),
        "held": gauge("relay_held_reports", "HELD reports: no route, a person decides.", recipient),
        "dead": gauge(
            "relay_dead_letters",
            "Dead-lettered reports not yet redriven or resolved, by reason.",
            [*recipient, "reason"],
        ),
        "breaker": gauge(
            "relay_breaker_open", "1 while the recipient's breaker is open, else 0.", recipient
        ),
        "in_flight": gauge(
            "relay_in_flight_deliveries",
            "Attempts under way (DELIVERING, or AWAITING_RECEIPT from a mailbox).",
            recipient,
        ),
        "outbox": gauge("relay_outbox_unpublished", "Outbox rows not yet published.", []),
        "outbox_age": gauge(
            "relay_outbox_oldest_seconds",
            "Age of the oldest unpublished outbox row (0: none).",
            [],
        ),
        "beats": gauge(
            "relay_heartbeat_age_seconds",
            "Seconds since each worker's and scheduler's last sign of life in the ledger.",
            ["role", "process"],
        ),
        "scrape": gauge(
            "relay_ledger_scrape_seconds", "How long reading these gauges from the ledger took.", []
        ),
    }


def _fill(
    families: dict[str, GaugeMetricFamily],
    summary: LedgerSummary,
    routed: list[str],
    now: datetime,
) -> None:
    seen = {recipient for _, recipient in summary.reports if recipient is not None}
    recipients: list[str | None] = [None, *sorted(seen.union(routed))]

    def age(moment: datetime | None) -> float:
        return max((now - moment).total_seconds(), 0.0) if moment else 0.0

    for recipient in recipients:
        label = recipient or NOT_ROUTED
        counts = {state: summary.reports.get((state, recipient), 0) for state in State}
        for state, count in counts.items():
            families["reports"].add_metric([state.value, label], count)
        families["oldest"].add_metric([label], age(summary.oldest_unfinished.get(recipient)))
        families["overdue"].add_metric([label], summary.overdue.get(recipient, 0))
        families["held"].add_metric([label], counts[State.HELD])
        families["in_flight"].add_metric([label], sum(counts[state] for state in IN_FLIGHT))
        kinds = {kind.value: 0 for kind in DeadLetterKind}
        for (dead_recipient, kind), count in summary.dead_letters.items():
            if dead_recipient == recipient:
                kinds[kind or ""] = count
        for kind, count in kinds.items():
            families["dead"].add_metric([label, kind], count)
    for recipient in sorted(set(routed).union(summary.breakers_open)):
        families["breaker"].add_metric([recipient], int(summary.breakers_open.get(recipient, 0)))
    families["outbox"].add_metric([], summary.outbox_unpublished)
    families["outbox_age"].add_metric([], age(summary.outbox_oldest))
    for beat in summary.beats:
        families["beats"].add_metric([beat.role, beat.process_id], age(beat.beat_at))
