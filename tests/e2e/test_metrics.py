"""Prometheus metrics scraped from running stacks during the 2020-2023 incident: a case system
that acknowledges and stores nothing for some reports, and another that is down for a
while. The false receipts are counted and their detection timed (scheduler), the overdue
gauge rises for the recipient that is down and falls when it is back (every process serves
it: it is read from the ledger), the prefork worker's port sums its pool processes' counts,
and no report content reaches any scrape."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from intake.meldingstyper import MELDINGSTYPER
from ledger.lifecycle import State
from tests.support.at_rest import found_in
from tests.support.processes import free_port, wait_for
from tests.support.reports import submission
from tests.support.stack import (
    FAST_RECOVERY,
    Broker,
    RecipientSpec,
    Stack,
    running_stack,
    split_stack,
)

pytestmark = pytest.mark.e2e

CANARY = "Kanarifugl Hvilested-Åsmund"
VERIFY_DELAY = 2.0
TICK = float(FAST_RECOVERY["RELAY_SCHEDULER_TICK_SECONDS"])
OVERDUE_AFTER = 4.0
ENV = {
    **FAST_RECOVERY,
    "RELAY_VERIFY_DELAY_SECONDS": str(VERIFY_DELAY),
    "RELAY_OVERDUE_AFTER_SECONDS": str(OVERDUE_AFTER),
}
DROPPING = RecipientSpec("bergen", ("4601",), sandbox_args=("--drop-rate", "0.4", "--seed", "7"))
# Labels may carry ids, states and kinds only (see the agreed metric names).
ALLOWED_LABELS = {"recipient", "state", "reason", "outcome", "result", "status", "role", "process"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Scrape:
    def __init__(self, url: str) -> None:
        self.url = url
        self.text = ""

    def __call__(self) -> Samples:
        self.text = httpx.get(self.url, timeout=10).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(self.text)
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float | None:
        return self().get((name, frozenset(labels.items())))

    def shows(self, name: str, expected: float, **labels: str) -> Callable[[], bool]:
        return lambda: self.value(name, **labels) == expected

    def answers(self) -> bool:
        try:
            return "relay_ledger_scrape_seconds" in httpx.get(self.url, timeout=2).text
        except httpx.TransportError:
            return False

    def total(self, name: str, **labels: str) -> float:
        """The sum of `name` over every series with these labels (0 if none)."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self().items() if n == name and wanted <= ls)


def submit_with_canary(stack: Stack, kommunenummer: str, count: int) -> list[str]:
    return [
        stack.submit(
            submission(
                MELDINGSTYPER[n % 4], kommunenummer=kommunenummer, text=f"{CANARY} {kommunenummer}"
            )
        )
        for n in range(count)
    ]


def false_receipt_delays(stack: Stack, report_ids: Iterable[str]) -> list[float]:
    """Per DELIVERED -> MISSING in the ledger, the seconds from the receipt to its detection."""
    return [
        (after.at - before.at).total_seconds()
        for report_id in report_ids
        for before, after in itertools.pairwise(stack.history(report_id))
        if (before.to_state, after.to_state) == (State.DELIVERED, State.MISSING)
    ]


def attempts_in_ledger(stack: Stack, report_ids: Iterable[str]) -> int:
    return sum(
        1
        for report_id in report_ids
        for transition in stack.history(report_id)
        if transition.to_state is State.DELIVERING
    )


def assert_clean(scrapes: Iterable[Scrape]) -> None:
    """No report content and no label but ids, states and kinds in any relay_* series."""
    for scrape in scrapes:
        scrape()
        assert not found_in(scrape.text.encode(), CANARY), f"report content at {scrape.url}"
        for family in text_string_to_metric_families(scrape.text):
            if family.name.startswith("relay_"):
                for sample in family.samples:
                    assert set(sample.labels) - {"le"} <= ALLOWED_LABELS, sample


def assert_false_receipts_counted(scrape: Scrape, delays: list[float]) -> None:
    bergen = {"recipient": "bergen"}
    assert delays, "the seed should make the case system drop some reports"
    assert scrape.value("relay_false_receipts_total", **bergen) == len(delays)
    assert scrape.value("relay_false_receipt_detection_seconds_count", **bergen) == len(delays)
    observed = scrape.value("relay_false_receipt_detection_seconds_sum", **bergen)
    assert observed == pytest.approx(sum(delays), abs=0.1 * len(delays))
    assert all(VERIFY_DELAY <= delay <= VERIFY_DELAY + TICK + 1.5 for delay in delays), delays


def test_an_incident_is_seen_in_the_metrics_of_a_split_stack(
    tmp_path: Path, postgres_url: str, redis_broker: Any
) -> None:
    worker_port, scheduler_port = free_port(), free_port()
    down = RecipientSpec("oslo", ("0301",), start=False)
    worker_args = ("--pool", "prefork", "--concurrency", "2", "--metrics-port", str(worker_port))
    env = {**ENV, "RELAY_METRICS_PORT": str(scheduler_port)}  # the worker's is given above
    broker = Broker(redis_broker.url, redis_broker.prefix)
    with split_stack(
        tmp_path, postgres_url, broker, (DROPPING, down), env, worker_args=worker_args
    ) as stack:
        api = Scrape(f"{stack.api_url}/metrics")
        worker = Scrape(f"http://127.0.0.1:{worker_port}/metrics")
        scheduler = Scrape(f"http://127.0.0.1:{scheduler_port}/metrics")
        for scrape in (worker, scheduler):
            wait_for(scrape.answers, timeout=60, message=f"metrics at {scrape.url}")

        waiting = submit_with_canary(stack, "0301", 3)
        dropped = submit_with_canary(stack, "4601", 12)
        for scrape in (api, worker, scheduler):  # the ledger's gauges, the same everywhere
            wait_for(
                scrape.shows("relay_overdue_reports", 3, recipient="oslo"),
                timeout=60,
                message=f"the overdue gauge rising for the recipient that is down ({scrape.url})",
            )
        wait_for(
            api.shows("relay_breaker_open", 1, recipient="oslo"),
            timeout=30,
            message="the breaker of the recipient that is down open",
        )
        stack.sandboxes["oslo"].start()  # back: its reports go, are verified, none overdue
        stack.wait_for_states(dropped, {State.VERIFIED}, timeout=120)
        assert_false_receipts_counted(scheduler, false_receipt_delays(stack, dropped))
        stack.wait_for_states(waiting, {State.VERIFIED}, timeout=120)
        wait_for(
            api.shows("relay_overdue_reports", 0, recipient="oslo"),
            timeout=30,
            message="the overdue gauge falling once the recipient is back",
        )
        assert api.value("relay_oldest_unverified_seconds", recipient="oslo") == 0
        assert api.value("relay_reports", state="VERIFIED", recipient="oslo") == 3

        everything = waiting + dropped
        assert worker.total("relay_delivery_attempts_total") == attempts_in_ledger(
            stack, everything
        ), "the worker's port sums what its pool processes counted"
        assert worker.total("relay_delivery_attempts_total", outcome="transient") > 0
        assert api.value("relay_intake_requests_total", status="202") == len(everything)
        assert scheduler.total("relay_readbacks_total", result="missing") == len(
            false_receipt_delays(stack, dropped)
        )
        beats = {labels for name, labels in api() if name == "relay_heartbeat_age_seconds"}
        assert {dict(labels)["role"] for labels in beats} >= {"worker", "scheduler"}
        assert_clean([api, worker, scheduler])


def test_relay_run_serves_every_metric_on_its_api(tmp_path: Path) -> None:
    with running_stack(tmp_path, "embedded", recipients=(DROPPING,), extra_env=ENV) as stack:
        dropped = submit_with_canary(stack, "4601", 12)
        stack.wait_for_states(dropped, {State.VERIFIED}, timeout=120)
        api = Scrape(f"{stack.api_url}/metrics")
        assert_false_receipts_counted(api, false_receipt_delays(stack, dropped))
        assert api.total("relay_delivery_attempts_total", outcome="delivered") >= len(dropped)
        assert api.value("relay_reports", state="VERIFIED", recipient="bergen") == len(dropped)
        assert api.value("relay_overdue_reports", recipient="bergen") == 0
        assert (api.value("relay_ledger_scrape_seconds") or 0) > 0
        assert_clean([api])
