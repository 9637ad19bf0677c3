"""Workers that cannot wedge: after the broker dies and comes back with deliveries in flight,
the pipeline moves again by itself (a wedged worker's watchdog exits it; its supervisor
starts a new one). No restarts by the test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.lifecycle import State
from relay.celery_app import EXIT_WEDGED
from tests.support.processes import wait_for
from tests.support.servers import PrivateRedis
from tests.support.stack import (
    FAST_RECOVERY,
    Broker,
    RecipientSpec,
    Stack,
    running_stack,
    split_stack,
)

pytestmark = pytest.mark.chaos

BERGEN = RecipientSpec("bergen", ("4601",), sandbox_args=("--latency", "0.5"))
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


def restart_redis_mid_delivery(stack: Stack, redis: PrivateRedis) -> None:
    """Redis killed and restarted (empty) while deliveries are in flight, reports arriving
    before and after; every one must end VERIFIED, stored once, with no restarts by us."""
    before = stack.submit_many("4601", 12)
    wait_for(
        lambda: any(stack.state(r) is State.DELIVERING for r in before),
        timeout=60,
        message="deliveries in flight",
    )
    redis.restart(down_seconds=1)
    restarted_at = time.monotonic()
    after = stack.submit_many("4601", 8)
    stack.wait_for_states(before + after, {State.VERIFIED}, timeout=120)
    print(f"moving again {time.monotonic() - restarted_at:.1f} s after the restart")
    stack.assert_stored_once("bergen", before + after)


def test_a_redis_restart_with_deliveries_in_flight_does_not_stop_delivery(
    tmp_path: Path, postgres_url: str, restartable_redis: PrivateRedis
) -> None:
    broker = Broker(restartable_redis.url)
    with split_stack(tmp_path, postgres_url, broker, (BERGEN,), WATCHED, supervised=True) as stack:
        restart_redis_mid_delivery(stack, restartable_redis)
        worker = stack.processes["worker"]
        if "Couldn't ack" in worker.log():  # the wedge's mark
            # Everything may be delivered before the watchdog sees the consumer stall (a
            # worker going on with its recipient's reports needs no message for them): the
            # worker must still take messages, itself or once its watchdog has exited it.
            later = stack.submit_many("4601", 1)
            stack.wait_for_states(later, {State.VERIFIED}, timeout=60)
            print(f"worker exits: {worker.exits} (EXIT_WEDGED is {EXIT_WEDGED})")


def test_relay_run_restarts_its_own_consumer_after_a_redis_restart(
    tmp_path: Path, postgres_url: str, restartable_redis: PrivateRedis
) -> None:
    with running_stack(
        tmp_path,
        "run",
        database_url=postgres_url,
        broker_url=restartable_redis.url,
        recipients=(BERGEN,),
        extra_env=WATCHED,
    ) as stack:
        restart_redis_mid_delivery(stack, restartable_redis)
        assert stack.processes["run"].alive, "relay run heals itself; nobody restarted it"
        log = stack.processes["run"].log()
        if "Couldn't ack" in log:  # the wedge: healed by restarting the consumer
            assert "its consumer was restarted" in log
