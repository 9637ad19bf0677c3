"""Routing with real processes: held reports re-routed by an operator, and routes files
changed while the system runs (used without restart; refused when they cannot be used)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.meldingstyper import MELDINGSTYPER
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from router.live import CHECK_SECONDS
from tests.support.reports import submission
from tests.support.stack import DEFAULT_RECIPIENTS, RecipientSpec, Stack, stack_for

pytestmark = pytest.mark.e2e

# Trondheim gets a recipient of its own that uses Bergen's case system.
WITH_TRONDHEIM = (*DEFAULT_RECIPIENTS, RecipientSpec("trondheim", ("5001",), case_system="bergen"))


# These tests watch routing, so their reports stay DELIVERED: with the stacks' usual read-back
# after 0.5 s a report could pass through DELIVERED to VERIFIED between two looks (on a busy
# machine it did), and a wait for DELIVERED never ended.
NO_READ_BACK = {"RELAY_VERIFY_DELAY_SECONDS": "3600"}


@pytest.fixture(params=["embedded", "split-postgres-redis"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with stack_for(request, tmp_path, request.param, extra_env=NO_READ_BACK) as running:
        yield running


def history(stack: Stack, report_id: str) -> list[tuple[State, str, str | None]]:
    with UnitOfWork(stack.engine, stack.keys) as uow:
        return [(t.to_state, t.actor, t.reason) for t in uow.reports.history(report_id)]


def recipient_of(stack: Stack, report_id: str) -> tuple[str | None, str | None]:
    with UnitOfWork(stack.engine, stack.keys) as uow:
        report = uow.reports.get(report_id)
    assert report is not None
    return report.recipient, report.kommunenummer


def let_every_process_look() -> None:
    """Each process looks at the routes file at most every CHECK_SECONDS when it routes or
    delivers; after this, its next routing or delivery looks."""
    time.sleep(2 * CHECK_SECONDS)


def test_a_held_report_is_delivered_once_the_routes_are_fixed_and_it_is_rerouted(
    stack: Stack,
) -> None:
    # 1601 is Trondheim's number before 2018; nobody serves Trondheim yet.
    report_id = stack.submit(submission(MELDINGSTYPER[1], kommunenummer="1601"))
    stack.wait_for_states([report_id], {State.HELD})
    reason = "no recipient serves 5001 (the report's 1601 is 5001 today)"

    listed = stack.relay_exit("held", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["reason"]) for r in json.loads(listed.stdout)] == [(report_id, reason)]

    stack.write_routes(WITH_TRONDHEIM)  # while everything runs
    let_every_process_look()  # the workers route the request, with the table they have
    rerouted = stack.relay_exit("held", "reroute", "--all", "--operator=kari", "--reason=fixed")
    assert rerouted.returncode == 0, rerouted.stdout + rerouted.stderr
    assert "routed, by recipient: 1" in rerouted.stdout

    stack.wait_for_states([report_id], {State.DELIVERED}, timeout=90)
    recorded = history(stack, report_id)
    # RECEIVED -> HELD -> HELD (the operator's request) -> ROUTED (a worker acting on it) ->
    # DELIVERED, with the attempt's DELIVERING (its lease) between.
    assert [state for state, _, _ in recorded] == [
        State.RECEIVED,
        State.HELD,
        State.HELD,
        State.ROUTED,
        State.DELIVERING,
        State.DELIVERED,
    ]
    assert [(actor, why) for _, actor, why in recorded[1:4]] == [
        ("router", reason),
        ("operator:kari", "fixed"),
        ("router", "as operator:kari asked: fixed"),
    ]
    assert recorded[-1][1] == "deliverer"
    assert recipient_of(stack, report_id) == ("trondheim", "5001")
    stored = [entry["id"] for entry in stack.sandboxes["bergen"].stored()]
    assert stored == [report_id]
    assert json.loads(stack.sandboxes["bergen"].body(report_id))["mottaker"] == {
        "recipient": "trondheim",
        "kommunenummer": "5001",
    }
    assert stack.relay_exit("held", "list", "--json").stdout.strip() == "[]"


def test_a_changed_routes_file_is_used_without_restart_and_an_invalid_one_is_refused(
    stack: Stack,
) -> None:
    routes_file = stack.workdir / "routes.yaml"
    good = routes_file.read_text("utf-8")
    # Every process is up and has its table (a process that starts with a file it cannot
    # use refuses to start, as it should).
    first = stack.submit(submission(MELDINGSTYPER[0], kommunenummer="0301"))
    stack.wait_for_states([first], {State.DELIVERED}, timeout=90)

    # An invalid file: refused by `relay routes reload` and by every running process.
    routes_file.write_text(good.replace("'4601'", "'46O1'"), "utf-8")
    refused = stack.relay_exit("routes", "reload")
    assert refused.returncode == 1
    assert "recipients[1] (id=bergen).serves" in refused.stderr
    let_every_process_look()
    oslo = stack.submit(submission(MELDINGSTYPER[0], kommunenummer="0301"))
    bergen = stack.submit(submission(MELDINGSTYPER[2], kommunenummer="1201"))
    stack.wait_for_states([oslo, bergen], {State.DELIVERED}, timeout=90)
    assert recipient_of(stack, bergen) == ("bergen", "4601"), "the old table was not in force"
    assert "routes file refused; the table in force" in stack.logs()

    # A valid new file: used for reports routed from then on, without a restart.
    stack.write_routes(WITH_TRONDHEIM)
    reloaded = stack.relay_exit("routes", "reload")
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    assert "valid, 3 recipients" in reloaded.stdout
    let_every_process_look()
    trondheim = stack.submit(submission(MELDINGSTYPER[3], kommunenummer="5001"))
    stack.wait_for_states([trondheim], {State.DELIVERED}, timeout=90)
    assert recipient_of(stack, trondheim) == ("trondheim", "5001")
    assert "routes reloaded from" in stack.logs()
    assert all(process.alive for process in stack.processes.values())
