"""A user's mistakes stop the real `relay` command with exit status 2 and one line on stderr
that says what is wrong and what to do: never a traceback, never a password."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ledger.content_crypto import new_key_line
from relay.demo.scenario import CASE_SYSTEMS, RECIPIENTS, routes_document, secret_env
from tests.support.processes import free_port

pytestmark = pytest.mark.e2e

PASSWORD = "sesame-open"
STARTUP_BOUND_SECONDS = 60  # interpreter start on a busy 2-core machine, then 5 s timeouts


def relay_command() -> list[str]:
    """The installed `relay` script beside this interpreter (else the same via -m)."""
    script = Path(sys.executable).with_name("relay")
    return [str(script)] if script.exists() else [sys.executable, "-m", "relay"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The embedded default with a routes file that serves every municipality (so a start
    logs no warning of its own), logging at WARNING."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELAY_")}
    routes = tmp_path / "routes.yaml"
    document = routes_document(["http://127.0.0.1:9"] * CASE_SYSTEMS)
    routes.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    env.update({secret_env(recipient.id): "s" * 32 for recipient in RECIPIENTS})
    env.update(
        RELAY_DATA_DIR=str(tmp_path / "var"),
        RELAY_ROUTES_FILE=str(routes),
        RELAY_CONTENT_KEYS=new_key_line("k1"),
        RELAY_LOG_LEVEL="WARNING",
    )
    return env


def relay(env: dict[str, str], *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*relay_command(), *args],
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=STARTUP_BOUND_SECONDS * 2,
        check=False,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 2, output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    (line,) = lines
    assert line.startswith("relay: ")
    for part in expected:
        assert part in line
    assert PASSWORD not in output
    return line


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg2"])
def test_a_postgres_url_without_psycopg_gets_the_right_form(
    env: dict[str, str], scheme: str
) -> None:
    url = f"{scheme}://relay:{PASSWORD}@127.0.0.1:5432/relay"
    result = relay(env, "status", "some-id", RELAY_DATABASE_URL=url)
    assert_one_line(
        result, "RELAY_DATABASE_URL", f"write postgresql+psycopg://… instead of {scheme}://…"
    )


def test_an_unknown_log_level_names_the_levels(env: dict[str, str]) -> None:
    result = relay(env, "health", RELAY_LOG_LEVEL="LOUD")
    assert_one_line(result, "RELAY_LOG_LEVEL", "'LOUD'", "DEBUG, INFO, WARNING, ERROR, CRITICAL")


def test_a_broker_url_of_no_known_kind_is_refused(env: dict[str, str]) -> None:
    result = relay(env, "worker", RELAY_BROKER_URL=f"http://u:{PASSWORD}@127.0.0.1/")
    assert_one_line(result, "RELAY_BROKER_URL", "http://… is no broker", "redis://…")


@pytest.mark.parametrize("args", [["status", "some-id"], ["dlq", "list"], ["worker"]])
def test_a_database_that_does_not_answer_is_named_without_its_password(
    env: dict[str, str], args: list[str]
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://relay:{PASSWORD}@127.0.0.1:{port}/relay"
    result = relay(env, *args, RELAY_DATABASE_URL=url)
    assert_one_line(
        result,
        f"the ledger at postgresql+psycopg://relay:***@127.0.0.1:{port}/relay cannot be reached",
        "Connection refused",
    )


@pytest.mark.parametrize(
    ("args", "broker"),
    [
        (["worker", "--pool", "solo"], f"redis://:{PASSWORD}@127.0.0.1:{{port}}/0"),
        (["scheduler"], f"amqp://guest:{PASSWORD}@127.0.0.1:{{port}}//"),
        (["run", "--port", "0"], "redis://127.0.0.1:{port}/0"),
    ],
)
def test_a_broker_that_does_not_answer_stops_the_start_naming_it(
    env: dict[str, str], args: list[str], broker: str
) -> None:
    port = free_port()
    url = broker.format(port=port)
    result = relay(env, *args, RELAY_BROKER_URL=url)
    shown = url.replace(PASSWORD, "***")
    assert_one_line(result, f"the broker at {shown} does not answer")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in [*held, server]:
        connection.close()


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_a_broker_that_accepts_and_never_answers_stops_the_start_within_its_timeout(
    env: dict[str, str], silent_server: int, scheme: str
) -> None:
    url = f"{scheme}://127.0.0.1:{silent_server}/"
    started = time.monotonic()
    result = relay(env, "worker", "--pool", "solo", RELAY_BROKER_URL=url)
    assert_one_line(result, f"the broker at {url} does not answer")
    assert time.monotonic() - started < STARTUP_BOUND_SECONDS


def test_rediss_against_a_plain_redis_fails_within_the_connect_timeout(
    env: dict[str, str], redis_base_url: str
) -> None:
    """Once, a worker given rediss:// for a Redis that does not speak TLS hung, even past
    SIGTERM; the TLS handshake is now bounded like any other wait."""
    url = "rediss://" + redis_base_url.split("://", 1)[1]
    started = time.monotonic()
    result = relay(env, "worker", "--pool", "solo", RELAY_BROKER_URL=url)
    took = time.monotonic() - started
    assert_one_line(result, f"the broker at {url} does not answer", "speaks TLS")
    assert took < STARTUP_BOUND_SECONDS


def test_a_scheduler_without_its_routes_file_stops_like_the_worker(
    env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "gone.yaml"
    for command in ("scheduler", "worker"):
        result = relay(env, command, RELAY_ROUTES_FILE=str(missing))
        assert_one_line(result, f"{missing}: cannot read the routes file")


@pytest.mark.parametrize(
    "args",
    [
        ["status", "some-id"],
        ["health"],
        ["dlq", "list"],
        ["api", "--port", "0"],
        ["worker", "--pool", "solo"],
        ["scheduler"],
    ],
)
def test_an_unmigrated_ledger_says_run_db_upgrade(
    env: dict[str, str], postgres_url: str, args: list[str]
) -> None:
    result = relay(env, *args, RELAY_DATABASE_URL=postgres_url)
    assert_one_line(result, "has no schema yet: run `relay db upgrade`")


def test_after_db_upgrade_read_only_commands_print_no_migration_logs(
    env: dict[str, str], postgres_url: str
) -> None:
    settings = {"RELAY_DATABASE_URL": postgres_url, "RELAY_LOG_LEVEL": "INFO"}
    upgraded = relay(env, "db", "upgrade", **settings)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "ledger schema at revision" in upgraded.stdout
    for args in (["status", "00000000-0000"], ["health"], ["dlq", "list"], ["held", "list"]):
        result = relay(env, *args, **settings)
        assert "Traceback" not in result.stderr
        assert "alembic" not in result.stderr.lower(), result.stderr
        assert "migrat" not in result.stderr.lower(), result.stderr
    missing = relay(env, "status", "00000000-0000", **settings).stderr
    assert missing.startswith("relay: "), missing
    assert "00000000-0000" in missing, missing
    assert missing.count("\n") == 1, missing
