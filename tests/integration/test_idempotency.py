"""Idempotency-Key through a running intake API, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from intake.meldingstyper import OFFENTLIG_V1, PRIVAT_V1
from ledger.idempotency import forget_old_keys
from ledger.uow import UnitOfWork
from tests.support.clock import Clock
from tests.support.intake_server import (
    AUTH,
    OTHER_TOKEN,
    count_reports,
    intake_config,
    serving,
)
from tests.support.ledger import TEST_KEYS
from tests.support.reports import submission

pytestmark = pytest.mark.integration

CONCURRENT = 4


class RendezvousIds:
    """New report ids, handed out only when every concurrent request has asked for one.

    Intake asks for an id after it found no earlier answer for the key and before it
    inserts, so on PostgreSQL this holds every request inside that window at once: all of
    them race to insert. SQLite lets one writer in at a time (BEGIN IMMEDIATE), so there the
    wait times out and the requests go one after another.
    """

    def __init__(self, parties: int, timeout: float) -> None:
        self._barrier = threading.Barrier(parties, timeout=timeout)
        self._lock = threading.Lock()
        self.handed_out = 0

    def __call__(self) -> str:
        with self._lock:
            self.handed_out += 1
        with contextlib.suppress(threading.BrokenBarrierError):
            self._barrier.wait()
        return str(uuid.uuid4())


def post_all_at_once(url: str, bodies: list[dict[str, object]], key: str) -> list[httpx.Response]:
    start = threading.Barrier(len(bodies))

    def post(body: dict[str, object]) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            start.wait()
            return client.post(
                f"{url}/v1/reports", json=body, headers={**AUTH, "Idempotency-Key": key}
            )

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@pytest.mark.parametrize(
    "grouped",
    [True, False],
    ids=["in-groups", "each-alone"],  # each alone: as requests to two API processes are
)
def test_concurrent_duplicates_create_one_report(ledger_engine: Engine, grouped: bool) -> None:
    ids = RendezvousIds(CONCURRENT, timeout=2)
    overrides = {} if grouped else {"group_commit": None}
    with serving(intake_config(ledger_engine, new_id=ids, **overrides)) as url:
        responses = post_all_at_once(url, [submission(PRIVAT_V1)] * CONCURRENT, key="same-key")
    assert [r.status_code for r in responses] == [202] * CONCURRENT
    assert len({r.json()["id"] for r in responses}) == 1
    assert count_reports(ledger_engine) == 1
    assert count_rows(ledger_engine, "outbox") == 1
    assert count_rows(ledger_engine, "idempotency_keys") == 1
    if is_postgres(ledger_engine) and not grouped:
        # every request passed the "no earlier answer" read before any committed: the race
        # was real, and the losers answered with the winner's report after IntegrityError
        assert ids.handed_out == CONCURRENT


def test_concurrent_requests_with_one_key_and_different_bodies_store_one(
    ledger_engine: Engine,
) -> None:
    ids = RendezvousIds(2, timeout=2)
    bodies = [submission(PRIVAT_V1, text="første"), submission(PRIVAT_V1, text="andre")]
    with serving(intake_config(ledger_engine, new_id=ids)) as url:
        responses = post_all_at_once(url, bodies, key="one-key-two-bodies")
    assert sorted(r.status_code for r in responses) == [202, 409]
    assert count_reports(ledger_engine) == 1
    for response in responses:
        assert response.headers["content-type"] in ("application/json", "application/problem+json")


def test_keys_are_kept_seven_days_then_forgotten(ledger_engine: Engine, clock: Clock) -> None:
    uow_factory: Callable[[], UnitOfWork] = lambda: UnitOfWork(ledger_engine, TEST_KEYS)  # noqa: E731
    headers = {**AUTH, "Idempotency-Key": "kept-a-week"}
    body = submission(OFFENTLIG_V1)
    with serving(intake_config(ledger_engine, now=clock)) as url, httpx.Client() as client:
        first = client.post(f"{url}/v1/reports", json=body, headers=headers)
        assert first.status_code == 202

        clock.advance(timedelta(days=7).total_seconds() - 1)
        assert forget_old_keys(uow_factory, clock) == 0
        again = client.post(f"{url}/v1/reports", json=body, headers=headers)
        assert again.json() == first.json()
        assert count_reports(ledger_engine) == 1

        clock.advance(2)
        assert forget_old_keys(uow_factory, clock) == 1
        later = client.post(f"{url}/v1/reports", json=body, headers=headers)
        assert later.status_code == 202
        assert later.json()["id"] != first.json()["id"]
        assert count_reports(ledger_engine) == 2


def test_a_key_belongs_to_its_client(ledger_engine: Engine) -> None:
    body = submission(PRIVAT_V1)
    with serving(intake_config(ledger_engine)) as url, httpx.Client() as client:
        mine = client.post(
            f"{url}/v1/reports", json=body, headers={**AUTH, "Idempotency-Key": "k-1"}
        )
        theirs = client.post(
            f"{url}/v1/reports",
            json=body,
            headers={"Authorization": f"Bearer {OTHER_TOKEN}", "Idempotency-Key": "k-1"},
        )
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["id"] != theirs.json()["id"]
    assert count_reports(ledger_engine) == 2
