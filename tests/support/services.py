"""Finding the real services for a test: env URL, else testcontainers with Docker, else skip.

With RELAY_REQUIRE_SERVICES=1 (CI), a missing service fails the test instead of skipping.
Each test gets its own database, Redis key prefix or RabbitMQ vhost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REQUIRED = os.environ.get("RELAY_REQUIRE_SERVICES") == "1"


def missing(service: str, reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{service} is required (RELAY_REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"{service} not available: {reason}")


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@contextmanager
def service_url(env_name: str, container_factory: str) -> Iterator[str | None]:
    """The URL from `env_name`, else one from a testcontainer, else None."""
    url = os.environ.get(env_name)
    if url:
        yield url
        return
    if not docker_answers():
        yield None
        return
    module, _, name = container_factory.rpartition(".")
    container_cls = getattr(__import__(module, fromlist=[name]), name)
    if name == "PostgresContainer":
        container = container_cls("postgres:16-alpine", driver="psycopg")
    elif name == "RedisContainer":
        container = container_cls("redis:7-alpine")
    else:
        container = container_cls("rabbitmq:3.13-alpine")
    with container as running:
        if name == "PostgresContainer":
            yield running.get_connection_url()
        elif name == "RedisContainer":
            host, port = running.get_container_host_ip(), running.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        else:
            host, port = running.get_container_host_ip(), running.get_exposed_port(5672)
            yield f"amqp://guest:guest@{host}:{port}//"


def fresh_postgres_database(admin_url: str) -> tuple[str, str]:
    """Create an empty database; returns (its URL, its name)."""
    name = f"relay_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name)
    return url.render_as_string(hide_password=False), name


def drop_postgres_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass(frozen=True)
class RedisBroker:
    url: str
    prefix: str


def delete_redis_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@contextmanager
def rabbitmq_vhost(base_url: str) -> Iterator[str]:
    """A fresh vhost when we can make one with rabbitmqctl on this machine, else the base URL."""
    parts = urlsplit(base_url)
    local = parts.hostname in ("127.0.0.1", "localhost")
    rabbitmqctl = shutil.which("rabbitmqctl")
    if not (local and rabbitmqctl):
        yield base_url
        return
    vhost = f"relay-test-{uuid.uuid4().hex[:12]}"
    user = parts.username or "guest"

    def ctl(*args: str) -> None:
        subprocess.run([rabbitmqctl, *args], check=True, capture_output=True, timeout=60)

    ctl("add_vhost", vhost)
    ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    try:
        yield urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
    finally:
        ctl("delete_vhost", vhost)
