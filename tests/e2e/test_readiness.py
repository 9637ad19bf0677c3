"""The API's probes on a real `relay api`: `/healthz` answers while the process lives;
`/readyz` is 200 only while the ledger is at the head revision and the broker answers, else
503 with the reason."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from ledger.content_crypto import new_key_line
from ledger.migrate import head_revision
from tests.support.processes import RelayProcess, free_port, run_relay
from tests.support.services import RedisBroker

pytestmark = pytest.mark.e2e


def environment(tmp_path: Path, database_url: str, broker_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELAY_")}
    env.update(
        RELAY_DATA_DIR=str(tmp_path / "var"),
        RELAY_DATABASE_URL=database_url,
        RELAY_BROKER_URL=broker_url,
        RELAY_CONTENT_KEYS=new_key_line("k1"),
        RELAY_INTAKE_TOKENS="portal:" + "t" * 32,
    )
    return env


@contextmanager
def api(name: str, env: dict[str, str], logdir: Path) -> Iterator[str]:
    port = free_port()
    process = RelayProcess(name, ["api", "--port", str(port)], env, logdir).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(f"{url}/healthz")
        yield url
    finally:
        process.stop()


def set_revision(database_url: str, revision: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_readyz_follows_the_ledgers_revision(
    tmp_path: Path, postgres_url: str, redis_broker: RedisBroker
) -> None:
    env = environment(tmp_path, postgres_url, redis_broker.url)
    env["RELAY_BROKER_KEY_PREFIX"] = redis_broker.prefix
    run_relay(["db", "upgrade"], env)
    with api("api", env, tmp_path) as url:
        ready = httpx.get(f"{url}/readyz", timeout=30)
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

        set_revision(postgres_url, "0001")  # as if this code were newer than the ledger
        try:
            behind = httpx.get(f"{url}/readyz", timeout=30)
        finally:
            set_revision(postgres_url, head_revision())
        assert behind.status_code == 503
        assert behind.json()["status"] == "not ready"
        assert "at revision 0001" in behind.json()["reason"]
        assert "run `relay db upgrade`" in behind.json()["reason"]
        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200

        assert httpx.get(f"{url}/readyz", timeout=30).status_code == 200


def test_readyz_is_503_naming_a_broker_that_does_not_answer(
    tmp_path: Path, postgres_url: str
) -> None:
    closed = free_port()  # nothing listens there
    env = environment(tmp_path, postgres_url, f"redis://:sesame@127.0.0.1:{closed}/0")
    run_relay(["db", "upgrade"], env)
    with api("api-without-broker", env, tmp_path) as url:
        alive = httpx.get(f"{url}/healthz", timeout=30)
        ready = httpx.get(f"{url}/readyz", timeout=30)
    assert alive.status_code == 200, "the intake takes reports while the broker is away"
    assert ready.status_code == 503
    reason = ready.json()["reason"]
    assert f"the broker at redis://:***@127.0.0.1:{closed}/0 does not answer" in reason
    assert "sesame" not in reason
