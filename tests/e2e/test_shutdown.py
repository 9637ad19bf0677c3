"""No process hangs past SIGTERM, even while its broker does not answer: every connect and
socket wait is bounded (a broker that goes away, and one that falls silent)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ledger.content_crypto import new_key_line
from tests.support.processes import wait_for
from tests.support.proxy import SilenceableProxy
from tests.support.services import RedisBroker

pytestmark = pytest.mark.e2e

STOP_WITHIN_SECONDS = 20


@pytest.mark.parametrize("broker", ["refusing", "silent"])
@pytest.mark.parametrize("command", [["worker", "--pool", "prefork"], ["scheduler"]])
def test_a_process_whose_broker_stops_answering_stops_on_sigterm(
    broker: str,
    command: list[str],
    tmp_path: Path,
    postgres_url: str,
    redis_broker: RedisBroker,
) -> None:
    """The process starts on a broker that answers (a broker that does not answer at start
    stops it at once: tests/e2e/test_user_errors.py), which then goes away or falls silent."""
    routes = tmp_path / "routes.yaml"
    routes.write_text("recipients: []\n", "utf-8")
    upstream = urlsplit(redis_broker.url)
    with SilenceableProxy(upstream.port or 6379) as proxy:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RELAY_")},
            "RELAY_DATABASE_URL": postgres_url,
            "RELAY_BROKER_URL": f"redis://127.0.0.1:{proxy.port}{upstream.path}",
            "RELAY_BROKER_KEY_PREFIX": redis_broker.prefix,
            "RELAY_ROUTES_FILE": str(routes),
            "RELAY_DATA_DIR": str(tmp_path),
            "RELAY_CONTENT_KEYS": new_key_line("shutdown"),
        }
        subprocess.run(
            [sys.executable, "-m", "relay", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
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
            # Past its start-up check (one connection), then its own connections.
            wait_for(
                lambda: proxy.connections >= 2 or process.poll() is not None,
                timeout=90,
                message="the process connecting to its broker",
            )
            time.sleep(2)
            assert process.poll() is None, log.read_text()
            if broker == "silent":
                proxy.silence()
            else:
                proxy.refuse()
            time.sleep(8)  # long enough to be stuck on the broker
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
                    f"still running {STOP_WITHIN_SECONDS} s after SIGTERM:\n"
                    f"{log.read_text()[-3000:]}"
                )
