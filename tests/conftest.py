"""Fixtures for real services (see tests/support/services.py for how each is found), the
test clock, the stages on a real ledger, and the hypothesis profile (tests/support/profiles.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from ledger.database import create_ledger_engine
from ledger.migrate import upgrade
from tests.support.clock import Clock
from tests.support.profiles import load_profile, register_profiles
from tests.support.services import (
    RedisBroker,
    delete_redis_prefix,
    drop_postgres_database,
    fresh_postgres_database,
    missing,
    rabbitmq_vhost,
    service_url,
)
from tests.support.stack import Broker
from tests.support.stages import Stages, two_vendor_routes

register_profiles()
load_profile()  # before the test modules are imported: their counts come from the profile


@pytest.fixture
def clock() -> Clock:
    """A clock at T0 (2026-11-26 08:00 UTC) that moves only by `clock.advance(seconds)`."""
    return Clock()


def _psycopg(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with service_url("RELAY_TEST_DATABASE_URL", "testcontainers.postgres.PostgresContainer") as url:
        if url is None:
            missing("PostgreSQL", "set RELAY_TEST_DATABASE_URL or run a Docker engine")
        assert url is not None
        url = _psycopg(url)
        try:
            engine = create_engine(url)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as error:
            missing("PostgreSQL", f"cannot connect ({type(error).__name__})")
        yield url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    url, name = fresh_postgres_database(postgres_admin_url)
    yield url
    drop_postgres_database(postgres_admin_url, name)


@pytest.fixture(scope="session")
def redis_base_url() -> Iterator[str]:
    with service_url("RELAY_TEST_REDIS_URL", "testcontainers.redis.RedisContainer") as url:
        if url is None:
            missing("Redis", "set RELAY_TEST_REDIS_URL or run a Docker engine")
        assert url is not None
        import redis

        try:
            redis.Redis.from_url(url, socket_timeout=2).ping()
        except Exception as error:
            missing("Redis", f"cannot connect ({type(error).__name__})")
        yield url


@pytest.fixture
def redis_broker(redis_base_url: str) -> Iterator[RedisBroker]:
    import uuid

    prefix = f"relay-test-{uuid.uuid4().hex[:12]}:"
    yield RedisBroker(redis_base_url, prefix)
    delete_redis_prefix(redis_base_url, prefix)


@pytest.fixture(scope="session")
def amqp_base_url() -> Iterator[str]:
    with service_url("RELAY_TEST_AMQP_URL", "testcontainers.rabbitmq.RabbitMqContainer") as url:
        if url is None:
            missing("RabbitMQ", "set RELAY_TEST_AMQP_URL or run a Docker engine")
        assert url is not None
        from kombu.connection import Connection

        try:
            with Connection(url, connect_timeout=3) as connection:
                connection.ensure_connection(max_retries=1)
        except Exception as error:
            missing("RabbitMQ", f"cannot connect ({type(error).__name__})")
        yield url


@pytest.fixture
def amqp_url(amqp_base_url: str) -> Iterator[str]:
    with rabbitmq_vhost(amqp_base_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated, empty ledger on SQLite (always) and on PostgreSQL (where available)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_ledger_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def stages(ledger_engine: Engine, tmp_path: Path, clock: Clock) -> Stages:
    """The delivery, proof and receipt stages on `ledger_engine`, routing to a rest-json
    recipient (bergen, 4601) and a fiks-io one (oslo, 0301)."""
    return Stages(ledger_engine, two_vendor_routes(tmp_path), clock)


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each production broker in turn: Redis (with a key prefix) and RabbitMQ (a vhost)."""
    if request.param == "redis":
        redis = request.getfixturevalue("redis_broker")
        return Broker(redis.url, redis.prefix)
    return Broker(request.getfixturevalue("amqp_url"))


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis server of this test's own, for tests that FLUSHALL (a lost broker)."""
    import shutil
    import subprocess

    from tests.support.processes import free_port, wait_for

    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server", "the binary is not on PATH (needed to flush a private broker)")
    assert binary is not None
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    wait_for(answers, timeout=20, message="private redis-server up")
    yield url
    process.terminate()
    process.wait(timeout=10)
