"""`IntakeClient` against a running intake API: refusals, real 503s, refused connections and
lost answers, each retried with one Idempotency-Key and never stored twice."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from intake.client import IntakeClient
from intake.client_errors import (
    IdempotencyConflict,
    IntakeUnavailable,
    InvalidReport,
    ReportNotFound,
    Unauthorised,
)
from intake.client_retry import RetryPolicy
from intake.meldingstyper import OFFENTLIG_V2, PRIVAT_V2
from ledger.database import create_ledger_engine
from ledger.migrate import upgrade
from relay.servers import ServerThread, bind
from tests.support.intake_server import (
    OTHER_TOKEN,
    TOKEN,
    count_reports,
    intake_config,
    serving,
)
from tests.support.processes import free_port
from tests.support.proxy import AnswerLosingProxy
from tests.support.reports import document

pytestmark = pytest.mark.integration


class RecordingSleep:
    """Sleeps nothing; records how long it was asked to, and may act at the n-th call."""

    def __init__(self, on_call: dict[int, object] | None = None) -> None:
        self.calls: list[float] = []
        self.on_call = on_call or {}

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        action = self.on_call.get(len(self.calls))
        if callable(action):
            action()


@pytest.fixture
def api_url(ledger_engine: Engine) -> Iterator[str]:
    with serving(intake_config(ledger_engine)) as url:
        yield url


def test_submit_then_status(api_url: str, ledger_engine: Engine) -> None:
    with IntakeClient(api_url, TOKEN) as client:
        receipt = client.submit(PRIVAT_V2, document(PRIVAT_V2))
        status = client.status(receipt.id)
    assert receipt.status == "RECEIVED"
    assert receipt.location == f"/v1/reports/{receipt.id}"
    assert len(receipt.idempotency_key) == 36  # a UUID the client made
    assert status.id == receipt.id
    assert status.meldingstype == PRIVAT_V2
    assert status.kommunenummer == "4601"
    assert status.recipient is None
    assert [entry.status for entry in status.history] == ["RECEIVED"]
    assert status.received_at == receipt.received_at
    assert count_reports(ledger_engine) == 1


def test_the_same_key_gives_the_same_receipt(api_url: str, ledger_engine: Engine) -> None:
    with IntakeClient(api_url, TOKEN) as client:
        first = client.submit(OFFENTLIG_V2, document(OFFENTLIG_V2), idempotency_key="p-1")
        again = client.submit(OFFENTLIG_V2, document(OFFENTLIG_V2), idempotency_key="p-1")
        with pytest.raises(IdempotencyConflict) as conflict:
            client.submit(OFFENTLIG_V2, document(OFFENTLIG_V2, text="x"), idempotency_key="p-1")
    assert again.id == first.id
    assert conflict.value.status == 409
    assert count_reports(ledger_engine) == 1


def test_refusals_are_typed_and_carry_the_problem(api_url: str) -> None:
    invalid = document(PRIVAT_V2)
    invalid["privatBarn"][0]["adresse"] = {}
    with IntakeClient(api_url, TOKEN) as client:
        with pytest.raises(InvalidReport) as refused:
            client.submit(PRIVAT_V2, invalid)
        receipt = client.submit(PRIVAT_V2, document(PRIVAT_V2))
    assert refused.value.errors == [
        {
            "pointer": "/bekymringsmelding/privatBarn/0/adresse/adresselinje1",
            "detail": "is required",
        }
    ]
    assert refused.value.problem["status"] == 422
    with IntakeClient(api_url, OTHER_TOKEN) as other, pytest.raises(ReportNotFound):
        other.status(receipt.id)
    with IntakeClient(api_url, "n" * 40) as stranger, pytest.raises(Unauthorised):
        stranger.submit(PRIVAT_V2, document(PRIVAT_V2))


def test_a_real_503_is_retried_with_the_same_key_until_stored(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    upgrade(create_ledger_engine(f"sqlite:///{path}"))
    engine = create_ledger_engine(f"sqlite:///{path}", busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the ledger cannot commit: intake answers 503
    sleep = RecordingSleep(on_call={2: lambda: blocker.execute("ROLLBACK")})
    try:
        with serving(intake_config(engine)) as url, IntakeClient(url, TOKEN, sleep=sleep) as c:
            receipt = c.submit(PRIVAT_V2, document(PRIVAT_V2))
    finally:
        blocker.close()
    assert sleep.calls == [5.0, 5.0]  # the server's Retry-After, honoured
    assert count_reports(engine) == 1
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT id FROM reports")).scalar_one()
    assert stored == receipt.id


def test_giving_up_on_a_read_only_ledger_leaves_a_key_to_send_again(postgres_url: str) -> None:
    engine = create_ledger_engine(postgres_url)
    upgrade(engine)
    name = make_url(postgres_url).database
    _read_only(engine, name, on=True)
    sleep = RecordingSleep()
    with serving(intake_config(engine)) as url:
        client = IntakeClient(url, TOKEN, sleep=sleep, retry=RetryPolicy(max_attempts=3))
        with client, pytest.raises(IntakeUnavailable) as unavailable:
            client.submit(PRIVAT_V2, document(PRIVAT_V2))
        assert unavailable.value.attempts == 3
        assert count_reports(engine) == 0
        _read_only(engine, name, on=False)
        with IntakeClient(url, TOKEN) as client:
            key = unavailable.value.idempotency_key
            receipt = client.submit(PRIVAT_V2, document(PRIVAT_V2), idempotency_key=key)
            again = client.submit(PRIVAT_V2, document(PRIVAT_V2), idempotency_key=key)
    assert receipt.id == again.id
    assert count_reports(engine) == 1
    engine.dispose()


def _read_only(engine: Engine, database: str | None, *, on: bool) -> None:
    value = "on" if on else "off"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SET default_transaction_read_only = off"))
        connection.execute(
            text(f'ALTER DATABASE "{database}" SET default_transaction_read_only = {value}')
        )
    engine.dispose()  # new connections pick the database default up


def test_connection_refused_then_the_server_comes_up(ledger_engine: Engine) -> None:
    port = free_port()
    started: list[ServerThread] = []

    def start_server() -> None:
        from intake.api import create_intake_app

        sock = bind(port=port)
        started.append(ServerThread(create_intake_app(intake_config(ledger_engine)), sock).start())

    sleep = RecordingSleep(on_call={1: start_server})
    try:
        with IntakeClient(f"http://127.0.0.1:{port}", TOKEN, sleep=sleep) as client:
            receipt = client.submit(PRIVAT_V2, document(PRIVAT_V2))
    finally:
        for server in started:
            server.stop()
            server.sock.close()
    assert len(sleep.calls) == 1
    assert receipt.status == "RECEIVED"
    assert count_reports(ledger_engine) == 1


def test_an_answer_lost_after_the_commit_is_retried_without_a_second_report(
    api_url: str, ledger_engine: Engine
) -> None:
    sleep = RecordingSleep()
    upstream = urlsplit(api_url).port
    assert upstream is not None
    with AnswerLosingProxy(upstream, drop=2) as proxy:
        with IntakeClient(proxy.url, TOKEN, sleep=sleep) as client:
            receipt = client.submit(OFFENTLIG_V2, document(OFFENTLIG_V2))
        assert proxy.dropped == 2
    assert len(sleep.calls) == 2
    assert count_reports(ledger_engine) == 1
    with IntakeClient(api_url, TOKEN) as client:
        assert client.status(receipt.id).status == "RECEIVED"
