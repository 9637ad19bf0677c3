"""No process hangs past SIGTERM, even while its broker does not answer: every connect and
socket wait is bounded (a broker that refuses, and one that accepts and never answers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.content_crypto import new_key_line
from tests.support.processes import free_port

pytestmark = pytest.mark.e2e

STOP_WITHIN_SECONDS = 20


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A TCP port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.parametrize("broker", ["refusing", "silent"])
@pytest.mark.parametrize("command", [["worker", "--pool", "prefork"], ["scheduler"]])
def test_a_process_whose_broker_does_not_answer_stops_on_sigterm(
    broker: str,
    command: list[str],
    tmp_path: Path,
    postgres_url: str,
    request: pytest.FixtureRequest,
) -> None:
    url = (
        f"redis://127.0.0.1:{free_port()}/0"
        if broker == "refusing"
        else request.getfixturevalue("silent_broker")
    )
    routes = tmp_path / "routes.yaml"
    routes.write_text("recipients: []\n", "utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RELAY_")},
        "RELAY_DATABASE_URL": postgres_url,
        "RELAY_BROKER_URL": url,
        "RELAY_ROUTES_FILE": str(routes),
        "RELAY_DATA_DIR": str(tmp_path),
        "RELAY_CONTENT_KEYS": new_key_line("shutdown"),
    }
    subprocess.run(
        [sys.executable, "-m", "relay", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    log = tmp_path / "process.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "relay", *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        time.sleep(8)  # long enough to be stuck connecting
        assert process.poll() is None, log.read_text()
        os.kill(process.pid, signal.SIGTERM)
        started = time.monotonic()
        process.wait(timeout=STOP_WITHIN_SECONDS)
        print(f"{command[0]} stopped {time.monotonic() - started:.1f} s after SIGTERM")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(
                f"still running {STOP_WITHIN_SECONDS} s after SIGTERM:\n{log.read_text()[-3000:]}"
            )
