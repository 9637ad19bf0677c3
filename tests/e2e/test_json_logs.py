"""RELAY_LOG_FORMAT=json on the production shape: every line that `relay api`, `relay worker`
(prefork) and `relay scheduler` write, from start to shutdown, is one JSON object (theirs,
uvicorn's, Celery's and its pool's); lines about a report carry its id, recipient, state and
event; and the canary name planted in the reports is in none of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from intake.meldingstyper import MELDINGSTYPER
from ledger.lifecycle import State
from tests.support.at_rest import found_in
from tests.support.processes import wait_for
from tests.support.reports import submission
from tests.support.stack import RecipientSpec, Stack, stack_for

pytestmark = pytest.mark.e2e

CANARY = "Kanarifugl Jsonsen-Øyvind"
RECIPIENTS = (
    # Acknowledges each report the first time and stores nothing: a false receipt, found by
    # the read-back; delivered again, it is stored.
    RecipientSpec("oslo", ("0301",), sandbox_args=("--drop-rate", "1")),
    RecipientSpec("bergen", ("4601",)),
    RecipientSpec("stavanger", ("1103",), sandbox_args=("--reject-kommunenummer", "1103")),
)
PROCESSES = ("api", "worker", "scheduler")


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    env = {"RELAY_LOG_FORMAT": "json", "RELAY_SCHEDULER_TICK_SECONDS": "0.2"}
    with stack_for(
        request, tmp_path, "split-postgres-redis", recipients=RECIPIENTS, extra_env=env
    ) as running:
        yield running


def json_lines(text: str, process: str) -> list[dict[str, Any]]:
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            parsed = json.loads(line)
        except ValueError:
            raise AssertionError(f"{process}.log line {number} is not JSON: {line!r}") from None
        assert isinstance(parsed, dict), f"{process}.log line {number}: {line!r}"
        assert {"time", "level", "logger", "message"} <= set(parsed), line
        lines.append(parsed)
    return lines


def test_every_line_of_every_process_is_json_and_none_holds_report_content(
    stack: Stack,
) -> None:
    fates = {"0301": "dropped", "4601": "verified", "1103": "rejected", "5001": "held"}
    sent: dict[str, str] = {}
    for number, meldingstype in enumerate(MELDINGSTYPER):
        for place, fate in fates.items():  # 5001 has no route: held
            text = f"{CANARY} {number}"
            body = submission(meldingstype, kommunenummer=place, text=text)
            sent[stack.submit(body, key=f"json-{place}-{number}")] = fate
    by_fate = {fate: [rid for rid, f in sent.items() if f == fate] for fate in fates.values()}
    stack.wait_for_states(by_fate["dropped"] + by_fate["verified"], {State.VERIFIED})
    stack.wait_for_states(by_fate["held"], {State.HELD})
    stack.wait_for_states(by_fate["rejected"], {State.DEAD_LETTERED})

    def alerted() -> bool:
        log = stack.processes["scheduler"].log()
        return all(report_id in log for report_id in by_fate["rejected"] + by_fate["held"])

    wait_for(alerted, timeout=30, message="an alert for each held and dead-lettered report")
    for process in stack.processes.values():
        process.stop()  # shutdown lines too

    lines = {name: json_lines(stack.processes[name].log(), name) for name in PROCESSES}
    loggers = {name: {line["logger"] for line in lines[name]} for name in PROCESSES}
    assert {"uvicorn.error", "intake.api"} <= loggers["api"]
    assert any(logger.startswith("celery.") for logger in loggers["worker"])
    assert "celery.apps.worker" in loggers["worker"]  # "Warm shutdown", said, not logged
    assert "relay.scheduler" in loggers["scheduler"]

    accepted = [line for line in lines["api"] if line.get("event") == "accepted"]
    assert {line["report_id"] for line in accepted} == set(sent)
    false_receipts = [line for line in lines["scheduler"] if line.get("event") == "false-receipt"]
    assert {line["report_id"] for line in false_receipts} == set(by_fate["dropped"])
    assert {(line["recipient"], line["state"]) for line in false_receipts} == {("oslo", "ROUTED")}
    alerts = {
        (line["report_id"], line["alert"], line["state"])
        for line in lines["scheduler"]
        if line.get("event") == "alert"
    }
    assert {(r, "held", "HELD") for r in by_fate["held"]} <= alerts
    assert {(r, "dead-lettered:rejected", "DEAD_LETTERED") for r in by_fate["rejected"]} <= alerts

    assert not any("color_message" in line for name in PROCESSES for line in lines[name])
    for name in PROCESSES:
        log = stack.processes[name].log()
        assert not found_in(log.encode(), CANARY), f"report content reached {name}'s log"
