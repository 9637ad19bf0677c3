"""`relay health`: the ledger shows every worker's heartbeats by queue and the scheduler's
beat; `--check ROLE` is the supervisor's liveness probe (exit 0 alive, 1 not)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relay.celery_app import worker_queues
from tests.support.processes import wait_for
from tests.support.services import RedisBroker
from tests.support.stack import Broker, RecipientSpec, split_stack

pytestmark = pytest.mark.e2e

BEATING = {"RELAY_HEARTBEAT_SECONDS": "1"}


def test_health_shows_heartbeats_per_queue_and_the_probe_follows_the_process(
    tmp_path: Path, postgres_url: str, redis_broker: RedisBroker
) -> None:
    bergen = RecipientSpec("bergen", ("4601",))
    broker = Broker(redis_broker.url, redis_broker.prefix)
    with split_stack(tmp_path, postgres_url, broker, (bergen,), BEATING) as stack:

        def every_queue_beats() -> bool:
            rows = json.loads(stack.relay("health", "--json"))
            queues = {row["queue"] for row in rows if row["role"] == "worker" and row["queue"]}
            return queues == set(worker_queues()) and any(
                row["role"] == "scheduler" for row in rows
            )

        wait_for(every_queue_beats, timeout=60, message="heartbeats from every queue")
        for role in ("worker", "scheduler"):
            alive = stack.relay_exit("health", "--check", role)
            assert alive.returncode == 0, alive.stdout + alive.stderr
            assert "alive" in alive.stdout

        stack.processes["worker"].stop()
        wait_for(
            lambda: stack.relay_exit("health", "--check", "worker").returncode == 1,
            timeout=60,
            message="the probe noticing the worker is gone",
        )
        assert stack.relay_exit("health", "--check", "scheduler").returncode == 0
