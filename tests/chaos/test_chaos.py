"""Chaos: the broker loses what it held, a worker dies mid-delivery. The ledger is the
truth, so every report still ends VERIFIED, stored exactly once (PostgreSQL, real workers,
real sandbox case systems; Redis and RabbitMQ)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from ledger.lifecycle import State
from tests.support.processes import wait_for
from tests.support.stack import FAST_RECOVERY, Broker, RecipientSpec, split_stack

pytestmark = pytest.mark.chaos

RECOVERY = {**FAST_RECOVERY, "RELAY_VERIFY_DELAY_SECONDS": "2"}


def test_a_worker_killed_mid_delivery_leaves_every_report_delivered_exactly_once(
    tmp_path: Path, postgres_url: str, broker: Broker
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), sandbox_args=("--latency", "0.5"))
    with split_stack(tmp_path, postgres_url, broker, (bergen,), RECOVERY) as stack:
        ids = stack.submit_many("4601", 16)
        wait_for(
            lambda: sum(stack.state(r) is State.VERIFIED for r in ids) >= 2,
            timeout=60,
            message="a few deliveries done",
        )
        in_flight = [r for r in ids if stack.state(r) is State.DELIVERING]
        stack.processes["worker"].kill()  # SIGKILL to the worker and its pool children
        stack.start_process(
            "worker-replacement", ["worker", "--pool", "prefork", "--concurrency", "2"]
        )
        stack.wait_for_states(ids, {State.VERIFIED}, timeout=120)
        stack.assert_stored_once("bergen", ids)
        assert in_flight, "the kill should have caught deliveries in flight"


@pytest.mark.parametrize("kill_worker", [False, True], ids=["flushall", "flushall-and-kill"])
def test_losing_everything_the_broker_held_loses_no_report(
    tmp_path: Path, postgres_url: str, private_redis: str, kill_worker: bool
) -> None:
    bergen = RecipientSpec("bergen", ("4601",), sandbox_args=("--latency", "0.3"))
    with split_stack(tmp_path, postgres_url, Broker(private_redis), (bergen,), RECOVERY) as stack:
        ids = stack.submit_many("4601", 20)
        wait_for(
            lambda: sum(stack.state(r) is State.VERIFIED for r in ids) >= 2,
            timeout=60,
            message="a few reports verified",
        )
        redis.Redis.from_url(private_redis).flushall()
        if kill_worker:
            stack.processes["worker"].kill()
            stack.start_process("worker-2", ["worker", "--pool", "prefork", "--concurrency", "2"])
        stack.wait_for_states(ids, {State.VERIFIED}, timeout=120)
        stack.assert_stored_once("bergen", ids)
