"""`relay api` for real against its own PostgreSQL: its pooled connections are not checked
before each use (that check is a round trip per report), so after a restart of the server
intake finds a dead connection and must try once more on a new one; and `--workers N`
serves from N processes on one port. Every answer is a 202 whose report is in the ledger."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from intake.meldingstyper import OFFENTLIG_V2
from ledger.content_crypto import new_key_line
from tests.support.processes import RelayProcess, free_port, run_relay
from tests.support.reports import submission
from tests.support.servers import PrivatePostgres

pytestmark = pytest.mark.e2e

TOKEN = "t" * 32


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextmanager
def relay_api(tmp_path: Path, database_url: str, *args: str) -> Iterator[tuple[str, RelayProcess]]:
    """The API's URL and its `relay api` process."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELAY_")}
    env.update(
        RELAY_DATA_DIR=str(tmp_path / "var"),
        RELAY_DATABASE_URL=database_url,
        RELAY_CONTENT_KEYS=new_key_line("k1"),
        RELAY_INTAKE_TOKENS="portal:" + TOKEN,
    )
    run_relay(["db", "upgrade"], env)
    port = free_port()
    process = RelayProcess("api", ["api", "--port", str(port), *args], env, tmp_path).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(f"{url}/healthz")
        yield url, process
    finally:
        process.stop()


def submit_many(url: str, count: int, *, keyed: bool) -> list[str]:
    """`count` reports from 8 threads at once (so the pool holds several connections)."""

    def one(number: int) -> str:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if keyed:
            headers["Idempotency-Key"] = f"restart-{number}"
        response = httpx.post(
            f"{url}/v1/reports", json=submission(OFFENTLIG_V2), headers=headers, timeout=30
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def stored(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT id FROM reports")).scalars())
    finally:
        engine.dispose()


def test_intake_answers_202_after_postgres_restarts_under_its_pooled_connections(
    tmp_path: Path, postgres: PrivatePostgres
) -> None:
    with relay_api(tmp_path, postgres.url) as (url, api):
        before = submit_many(url, 16, keyed=False)
        postgres.restart()  # every pooled connection is now dead
        after_without_keys = submit_many(url, 16, keyed=False)
        postgres.restart()
        after_with_keys = submit_many(url, 16, keyed=True)
        status = httpx.get(
            f"{url}/v1/reports/{before[0]}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        log = api.log()
    assert status.status_code == 200
    assert "connection was lost (OperationalError); trying once more" in log
    accepted = [*before, *after_without_keys, *after_with_keys]
    assert len(set(accepted)) == len(accepted) == 48
    assert stored(postgres.url) == set(accepted)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as file:
            found += [int(child) for child in file.read().split()]
    return found


def test_relay_api_with_workers_serves_from_that_many_processes(
    tmp_path: Path, postgres: PrivatePostgres
) -> None:
    with relay_api(tmp_path, postgres.url, "--workers", "2") as (url, api):
        assert api.process is not None
        accepted = submit_many(url, 40, keyed=True)
        serving = children(api.process.pid)
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
    assert len(serving) >= 2  # uvicorn's workers (and, maybe, multiprocessing's tracker)
    assert stored(postgres.url) == set(accepted)
    counted = [
        line for line in metrics.splitlines() if line.startswith("relay_intake_requests_total")
    ]
    assert counted == ['relay_intake_requests_total{status="202"} 40.0']
