"""Proof of delivery on PostgreSQL + Redis with real workers and sandbox case systems: the
2020-2023 incident caught within seconds, damaged copies refused, vanished reports found
by reconciliation, a lost broker survived, overdue reports alarmed once each."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from ledger.lifecycle import State
from relay.servers import ServerThread, bind
from tests.support.processes import wait_for
from tests.support.stack import FAST_RECOVERY, Broker, RecipientSpec, Stack, split_stack

pytestmark = pytest.mark.e2e

VERIFY_DELAY = 2.0
TICK = float(FAST_RECOVERY["RELAY_SCHEDULER_TICK_SECONDS"])
PROOF_ENV = {**FAST_RECOVERY, "RELAY_VERIFY_DELAY_SECONDS": str(VERIFY_DELAY)}


@pytest.fixture
def redis_only(redis_broker: Any) -> Broker:
    return Broker(redis_broker.url, redis_broker.prefix)


def posts(stack: Stack, recipient: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = httpx.get(
        f"{stack.sandboxes[recipient].url}/_sandbox/posts", timeout=10
    ).json()
    return result


def test_reports_acknowledged_but_never_stored_are_caught_and_delivered_again(
    tmp_path: Path, postgres_url: str, redis_only: Broker
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), sandbox_args=("--drop-rate", "0.4", "--seed", "7"))
    with split_stack(tmp_path, postgres_url, redis_only, (bergen,), PROOF_ENV) as stack:
        ids = stack.submit_many("4601", 12)
        stack.wait_for_states(ids, {State.VERIFIED}, timeout=90)

        dropped = {post["id"] for post in posts(stack, "bergen") if post["note"] == "dropped"}
        assert dropped, "the seed should make the case system drop some reports"
        caught = set()
        for report_id in ids:
            states = [t.to_state for t in stack.history(report_id)]
            if State.MISSING in states:
                caught.add(report_id)
                start = states.index(State.DELIVERED)
                assert states[start : start + 3] == [State.DELIVERED, State.MISSING, State.ROUTED]
            assert states[-1] is State.VERIFIED
        assert caught == dropped

        for report_id in caught:
            history = stack.history(report_id)
            for before, after in itertools.pairwise(history):
                if (before.to_state, after.to_state) == (State.DELIVERED, State.MISSING):
                    detection = (after.at - before.at).total_seconds()
                    assert detection <= VERIFY_DELAY + TICK + 1.0, detection

        stack.assert_stored_once("bergen", ids)


def test_a_damaged_copy_is_dead_lettered_as_content_mismatch_and_never_verified(
    tmp_path: Path, postgres_url: str, redis_only: Broker
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), sandbox_args=("--damage-rate", "1"))
    with split_stack(tmp_path, postgres_url, redis_only, (bergen,), PROOF_ENV) as stack:
        ids = stack.submit_many("4601", 3)
        stack.wait_for_states(ids, {State.DEAD_LETTERED}, timeout=60)
        for report_id in ids:
            history = stack.history(report_id)
            assert history[-1].reason == "content mismatch"
            assert history[-1].actor == "verifier"
            assert State.VERIFIED not in [t.to_state for t in history]
        listed = json.loads(stack.relay("dlq", "list", "--reason", "content-mismatch", "--json"))
        assert {entry["id"] for entry in listed} == set(ids)


def test_reconciliation_finds_a_report_that_vanished_after_it_was_verified(
    tmp_path: Path, postgres_url: str, redis_only: Broker
) -> None:
    bergen = RecipientSpec("bergen", ("4601",))
    with split_stack(tmp_path, postgres_url, redis_only, (bergen,), PROOF_ENV) as stack:
        ids = stack.submit_many("4601", 3)
        stack.wait_for_states(ids, {State.VERIFIED})
        vanished = ids[1]
        httpx.delete(
            f"{stack.sandboxes['bergen'].url}/_sandbox/reports/{vanished}"
        ).raise_for_status()

        result = stack.relay_exit("reconcile", "--recipient", "bergen")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"missing, delivering again: {vanished}" in result.stdout
        assert "bergen: 3 checked, 1 missing" in result.stdout

        stack.wait_for_states([vanished], {State.VERIFIED})
        moves = [(t.from_state, t.to_state, t.actor) for t in stack.history(vanished)]
        assert (State.VERIFIED, State.MISSING, "reconciler") in moves
        assert sorted(e["id"] for e in stack.sandboxes["bergen"].stored()) == sorted(ids)

        again = stack.relay_exit("reconcile", "--recipient", "bergen")
        assert again.returncode == 0, again.stdout


class Webhook:
    """A real HTTP endpoint on 127.0.0.1 that collects the alerts posted to it."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        app = FastAPI()

        @app.post("/alerts")
        async def collect(request: Request) -> dict[str, str]:
            with self.lock:
                self.alerts.append(await request.json())
            return {"status": "ok"}

        self.server = ServerThread(app, bind())

    @property
    def url(self) -> str:
        return f"{self.server.url}/alerts"


def test_overdue_reports_are_listed_and_alerted_once_each(
    tmp_path: Path, postgres_url: str, redis_only: Broker
) -> None:
    webhook = Webhook()
    webhook.server.start()
    down = RecipientSpec("bergen", ("4601",), start=False, delivery={"overdue_after_seconds": 3})
    env = {"RELAY_ALERT_WEBHOOK_URL": webhook.url}
    try:
        with split_stack(
            tmp_path, postgres_url, redis_only, (down,), {**PROOF_ENV, **env}
        ) as stack:
            ids = stack.submit_many("4601", 3)

            def alerted() -> bool:
                with webhook.lock:
                    return {
                        a["report_id"] for a in webhook.alerts if a["kind"] == "overdue"
                    } == set(ids)

            wait_for(alerted, timeout=60, message="an overdue alert for each report")
            result = stack.relay_exit("overdue", "--json")
            assert result.returncode == 1
            assert {entry["id"] for entry in json.loads(result.stdout)} == set(ids)
            time.sleep(3)  # many more ticks: still one alert per report
            with webhook.lock:
                kinds = Counter((a["report_id"], a["kind"]) for a in webhook.alerts)
            assert all(count == 1 for count in kinds.values())
            assert all("Navnesen" not in json.dumps(a) for a in webhook.alerts)
            assert "ALERT overdue: report" in stack.processes["scheduler"].log()
    finally:
        webhook.server.stop()


def test_health_shows_unverifiable_recipients_open_breakers_and_backlogs(
    tmp_path: Path, postgres_url: str, redis_only: Broker
) -> None:
    recipients = (
        RecipientSpec("fiks-legacy", ("4601",), vendor="fiks-io", receipt="legacy"),
        RecipientSpec("oslo", ("0301",), start=False),
    )
    with split_stack(tmp_path, postgres_url, redis_only, recipients, PROOF_ENV) as stack:
        legacy = stack.submit_many("4601", 2)
        waiting = stack.submit_many("0301", 4)
        stack.wait_for_states(legacy, {State.DELIVERED})

        def health() -> dict[str, dict[str, Any]]:
            views = json.loads(stack.relay("recipients", "health", "--json"))
            return {view["recipient"]: view for view in views}

        wait_for(
            lambda: health()["oslo"]["breaker_open_until"] is not None,
            timeout=60,
            message="the down recipient's breaker open",
        )
        time.sleep(VERIFY_DELAY + 2 * TICK + 1)
        assert all(stack.state(report_id) is State.DELIVERED for report_id in legacy), (
            "a legacy receipt proves nothing, so the report can never be VERIFIED on its own"
        )
        views = health()
        assert views["fiks-legacy"]["verifiable"] is False
        assert views["fiks-legacy"]["last_success_at"] is not None
        assert views["oslo"]["verifiable"] is True
        assert views["oslo"]["last_success_at"] is None
        assert views["oslo"]["backlog"] == len(waiting)
        assert views["oslo"]["dead_letters"] == 0
