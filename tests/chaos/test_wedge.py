"""Workers that cannot wedge: after the broker dies and comes back with deliveries in flight,
the pipeline moves again by itself (a wedged worker's watchdog exits it; its supervisor
starts a new one). No restarts by the test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.lifecycle import State
from tests.support.processes import wait_for
from tests.support.servers import PrivateRedis
from tests.support.stack import FAST_RECOVERY, Broker, RecipientSpec, running_stack, split_stack

pytestmark = pytest.mark.chaos

WATCHED = {
    **FAST_RECOVERY,
    "RELAY_VERIFY_DELAY_SECONDS": "1",
    "RELAY_HEARTBEAT_SECONDS": "1",
    "RELAY_WORKER_STALL_SECONDS": "10",
}


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.close()


def test_a_redis_restart_with_deliveries_in_flight_does_not_stop_delivery(
    tmp_path: Path, postgres_url: str, restartable_redis: PrivateRedis
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), sandbox_args=("--latency", "0.5"))
    broker = Broker(restartable_redis.url)
    with split_stack(tmp_path, postgres_url, broker, (bergen,), WATCHED, supervised=True) as stack:
        before = stack.submit_many("4601", 12)
        wait_for(
            lambda: any(stack.state(r) is State.DELIVERING for r in before),
            timeout=60,
            message="deliveries in flight",
        )
        restartable_redis.restart(down_seconds=1)
        after = stack.submit_many("4601", 8)
        restarted_at = time.monotonic()
        stack.wait_for_states(before + after, {State.VERIFIED}, timeout=120)
        print(f"moving again {time.monotonic() - restarted_at:.1f} s after the restart")
        stack.assert_stored_once("bergen", before + after)


def test_relay_run_restarts_its_own_consumer_after_a_redis_restart(
    tmp_path: Path, postgres_url: str, restartable_redis: PrivateRedis
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), sandbox_args=("--latency", "0.5"))
    with running_stack(
        tmp_path,
        "run",
        database_url=postgres_url,
        broker_url=restartable_redis.url,
        recipients=(bergen,),
        extra_env=WATCHED,
    ) as stack:
        before = stack.submit_many("4601", 12)
        wait_for(
            lambda: any(stack.state(r) is State.DELIVERING for r in before),
            timeout=60,
            message="deliveries in flight",
        )
        restartable_redis.restart(down_seconds=1)
        after = stack.submit_many("4601", 8)
        stack.wait_for_states(before + after, {State.VERIFIED}, timeout=120)
        stack.assert_stored_once("bergen", before + after)
        assert stack.processes["run"].alive, "relay run heals itself; nobody restarted it"
        log = stack.processes["run"].log()
        if "Couldn't ack" in log:
            assert "its consumer was restarted" in log
