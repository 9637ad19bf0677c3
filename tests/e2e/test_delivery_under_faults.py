"""Deliveries against real sandbox case systems with faults, real workers, on PostgreSQL with
Redis and with RabbitMQ: every report reaches its case system exactly once, or is parked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from intake.meldingstyper import PRIVAT_V2
from ledger.lifecycle import State
from tests.support.processes import wait_for
from tests.support.reports import submission
from tests.support.stack import FAST_RECOVERY, Broker, RecipientSpec, split_stack

pytestmark = pytest.mark.e2e


def test_store_then_fail_is_stored_once_and_delivered_with_every_attempt_recorded(
    tmp_path: Path, postgres_url: str, broker: Broker
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), sandbox_args=("--store-then-fail-rate", "1"))
    # Every answer is a 500 until the fault is lifted: with the breaker's usual three, it
    # could open before the fourth report's first attempt, and its probes (retries of
    # reports already stored, answered 500 again) would keep that one from ever being sent.
    # This test is about replays, not the breaker (test_breaker covers that).
    settings = {**FAST_RECOVERY, "RELAY_BREAKER_FAILURES": "10"}
    with split_stack(tmp_path, postgres_url, broker, (bergen,), settings) as stack:
        ids = stack.submit_many("4601", 4)
        wait_for(
            lambda: len(stack.sandboxes["bergen"].stored()) == len(ids),
            timeout=60,
            message="every report stored once while the case system answers 500",
        )
        stack.sandboxes["bergen"].set_faults(store_then_fail_rate=0)
        stack.wait_for_states(ids, {State.VERIFIED}, timeout=90)
        stack.assert_stored_once("bergen", ids)
        for report_id in ids:
            history = stack.history(report_id)
            outcomes = [
                t.detail.get("status_code")
                for t in history
                if t.detail and "status_code" in t.detail
            ]
            assert outcomes[0] == 500
            assert outcomes[-1] == 200, "the final answer is the replay of the stored copy"
            delivered = next(t for t in history if t.to_state is State.DELIVERED)
            assert delivered.detail is not None
            assert delivered.detail["replay"] is True
            assert [t.to_state for t in history].count(State.DELIVERING) == len(outcomes)


def test_a_422_is_dead_lettered_after_one_attempt_and_redrive_delivers_it(
    tmp_path: Path, postgres_url: str, broker: Broker
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), sandbox_args=("--reject-kommunenummer", "4601"))
    with split_stack(tmp_path, postgres_url, broker, (bergen,), FAST_RECOVERY) as stack:
        report_id = stack.submit(submission(PRIVAT_V2, kommunenummer="4601"))
        stack.wait_for_states([report_id], {State.DEAD_LETTERED})
        history = stack.history(report_id)
        assert [t.to_state for t in history].count(State.DELIVERING) == 1
        assert (
            history[-1].reason == "HTTP 422: kommunenummer 4601 is not served by this case system"
        )

        listed = stack.relay("dlq", "list", "--reason", "rejected", "--json")
        assert report_id in listed

        stack.sandboxes["bergen"].set_faults(reject_kommunenummer=[])
        stack.relay(
            "dlq", "redrive", report_id, "--reason", "case system fixed", "--operator", "kari"
        )
        stack.wait_for_states([report_id], {State.VERIFIED})
        redriven = next(t for t in stack.history(report_id) if t.actor == "operator:kari")
        assert (redriven.from_state, redriven.to_state) == (State.DEAD_LETTERED, State.ROUTED)
        assert redriven.reason == "redrive: case system fixed"
        stack.assert_stored_once("bergen", [report_id])


def test_a_recipient_down_for_20_seconds_gets_everything_and_nothing_is_dead_lettered(
    tmp_path: Path, postgres_url: str, broker: Broker
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), start=False)
    with split_stack(tmp_path, postgres_url, broker, (bergen,), FAST_RECOVERY) as stack:
        ids = stack.submit_many("4601", 6)
        time.sleep(20)
        assert all(stack.state(report_id) is not State.DEAD_LETTERED for report_id in ids)
        stack.sandboxes["bergen"].start()
        stack.wait_for_states(ids, {State.VERIFIED}, timeout=90)
        stack.assert_stored_once("bergen", ids)
        for report_id in ids:
            assert State.DEAD_LETTERED not in [t.to_state for t in stack.history(report_id)]


def test_a_down_and_a_slow_recipient_do_not_hold_up_a_healthy_one(
    tmp_path: Path, postgres_url: str, broker: Broker
) -> None:
    recipients = (
        RecipientSpec("oslo", ("0301",)),
        RecipientSpec("bergen", ("4601",), start=False),
        RecipientSpec(
            "trondheim", ("5001",), sandbox_args=("--latency", "20"), delivery={"max_concurrent": 1}
        ),
    )
    # The lease outlasts the slow push (20 s), as in production (90 s against a 30 s read
    # timeout): with a shorter one, a stall of a few seconds (seen in CI on RabbitMQ: for 9 s
    # nothing was published or taken; cause not found) lets the lease run out mid-push, the
    # second worker takes the same slow report again, and both are held 20 s while the
    # healthy reports wait.
    env = {**FAST_RECOVERY, "RELAY_DELIVERY_LEASE_SECONDS": "30"}
    with split_stack(
        tmp_path,
        postgres_url,
        broker,
        recipients,
        env,
        workers=2,
        worker_args=("--pool", "solo"),
    ) as stack:
        slow = stack.submit_many("5001", 8)
        down = stack.submit_many("4601", 8)
        healthy = stack.submit_many("0301", 8)
        stack.wait_for_states(healthy, {State.VERIFIED}, timeout=45)
        stored = {State.DELIVERED, State.VERIFIED}
        assert not any(stack.state(report_id) in stored for report_id in down)
        assert sum(stack.state(report_id) in stored for report_id in slow) <= 3
        stack.assert_stored_once("oslo", healthy)


def test_fiks_io_receipts_decide_the_outcome(
    tmp_path: Path, postgres_url: str, broker: Broker
) -> None:
    recipients = (
        RecipientSpec("fiks", ("4601",), vendor="fiks-io"),
        RecipientSpec(
            "fiks-refusing",
            ("0301",),
            vendor="fiks-io",
            sandbox_args=("--reject-kommunenummer", "0301"),
        ),
        RecipientSpec(
            "fiks-silent",
            ("5001",),
            vendor="fiks-io",
            sandbox_args=("--silent-attempts", "1"),
            delivery={"receipt_deadline_seconds": 3},
        ),
    )
    with split_stack(tmp_path, postgres_url, broker, recipients, FAST_RECOVERY) as stack:
        stored = stack.submit(submission(PRIVAT_V2, kommunenummer="4601"))
        refused = stack.submit(submission(PRIVAT_V2, kommunenummer="0301"))
        silent = stack.submit(submission(PRIVAT_V2, kommunenummer="5001"))

        stack.wait_for_states([stored, silent], {State.VERIFIED}, timeout=90)
        stack.wait_for_states([refused], {State.DEAD_LETTERED})

        delivered = next(t for t in stack.history(stored) if t.to_state is State.DELIVERED)
        assert delivered.actor == "receipts"
        assert delivered.detail is not None
        assert delivered.detail["saksreferanse"].startswith("SAK-")
        assert (
            stack.history(refused)[-1].reason
            == "feilet: kommunenummer 0301 is not served by this case system (simulated)"
        )
        silent_reasons = [t.reason for t in stack.history(silent)]
        assert "no receipt within 3 s" in silent_reasons
        stack.assert_stored_once("fiks", [stored])
        stack.assert_stored_once("fiks-silent", [silent])
