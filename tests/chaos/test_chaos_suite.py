"""The chaos suite at CI size: about 200 reports on PostgreSQL + Redis and on PostgreSQL +
RabbitMQ, each fault once while they arrive, then every invariant. The long run is
`benchmarks/chaos.py`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.chaos import FAULTS, run_chaos, schedule
from tests.support.servers import POSTGRES_BIN, find_binary
from tests.support.services import missing

pytestmark = pytest.mark.chaos

RECOVERY_BOUND = 60.0
SERVERS = {"redis": "redis-server", "rabbitmq": "rabbitmq-server"}


@pytest.fixture
def private_servers(broker: str) -> None:
    """The suite runs its own PostgreSQL and broker, to kill and restart them."""
    for binary, folder in (("initdb", POSTGRES_BIN), (SERVERS[broker], "/usr/sbin")):
        if find_binary(binary, folder) is None:
            missing(binary, "the chaos suite starts private servers to kill and restart")


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_under_every_fault_nothing_is_lost_duplicated_or_stuck(
    broker: str, tmp_path: Path, private_servers: None
) -> None:
    kinds = [f for f in FAULTS if broker == "redis" or f != "flushall"]
    result = run_chaos(
        tmp_path,
        broker,
        reports=200,
        threads=4,
        rate=2.5,
        faults=schedule(kinds, len(kinds), first_at=5, spacing=11),
        recovery_bound=RECOVERY_BOUND,
        progress=print,
    )
    print(json.dumps(result.summary(), indent=2))
    assert result.violations(RECOVERY_BOUND) == []
    assert result.accepted >= 200
    assert result.drops > 0, "the dropping case system dropped nothing"
    assert result.damaged > 0, "the damaging case system damaged nothing"
