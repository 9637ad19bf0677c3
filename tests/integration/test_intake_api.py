"""The intake API against a real ledger (SQLite and PostgreSQL), in process."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from intake.api import create_intake_app
from intake.meldingstyper import OFFENTLIG_V2, PRIVAT_V2
from ledger.clock import utc_now
from ledger.database import create_ledger_engine
from ledger.lifecycle import State
from ledger.migrate import upgrade
from ledger.outbox import publish_outbox
from ledger.uow import UnitOfWork
from relay.preflight import ledger_problem
from tests.support.fakes import RecordingPublisher
from tests.support.intake_server import AUTH, OTHER_TOKEN, intake_config
from tests.support.ledger import TEST_KEYS
from tests.support.reports import submission

pytestmark = pytest.mark.integration


def client_for(engine: Engine, max_body_bytes: int = 5 * 1024 * 1024) -> TestClient:
    config = intake_config(
        engine, max_body_bytes=max_body_bytes, readiness=lambda: ledger_problem(engine)
    )
    return TestClient(create_intake_app(config), raise_server_exceptions=False)


@pytest.fixture
def client(ledger_engine: Engine) -> Iterator[TestClient]:
    with client_for(ledger_engine) as test_client:
        yield test_client


def count_reports(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM reports")).scalar_one())


def test_accepted_means_committed_with_its_first_transition(
    client: TestClient, ledger_engine: Engine
) -> None:
    response = client.post("/v1/reports", json=submission(PRIVAT_V2), headers=AUTH)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "RECEIVED"
    assert body["received_at"].endswith("Z")
    assert response.headers["location"] == f"/v1/reports/{body['id']}"
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(body["id"])
        assert report is not None
        assert report.state is State.RECEIVED
        assert report.client_id == "portal"
        assert uow.outbox.count(body["id"]) == 1


def test_status_shows_metadata_and_history_to_its_own_client_only(client: TestClient) -> None:
    report_id = client.post("/v1/reports", json=submission(OFFENTLIG_V2), headers=AUTH).json()["id"]
    mine = client.get(f"/v1/reports/{report_id}", headers=AUTH)
    assert mine.status_code == 200
    view = mine.json()
    assert view["status"] == "RECEIVED"
    assert view["recipient"] is None
    assert view["kommunenummer"] == "4601"
    assert [entry["status"] for entry in view["history"]] == ["RECEIVED"]
    assert "Navnesen" not in mine.text  # a name from the document: content stays out
    other = client.get(
        f"/v1/reports/{report_id}", headers={"Authorization": f"Bearer {OTHER_TOKEN}"}
    )
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({}, b"{}", 401),
        ({"Authorization": "Bearer not-a-known-token-at-all-not-at-all"}, b"{}", 401),
        ({**AUTH, "Content-Type": "text/plain"}, b"{}", 415),
        ({**AUTH, "Content-Type": "application/json"}, b"{not json", 400),
        ({**AUTH, "Content-Type": "application/json"}, b"[]", 400),
        ({**AUTH, "Content-Type": "application/json"}, b'{"meldingstype": "x"}', 422),
    ],
)
def test_bad_requests_get_a_problem_and_store_nothing(
    client: TestClient, ledger_engine: Engine, headers: dict[str, str], content: bytes, status: int
) -> None:
    response = client.post("/v1/reports", content=content, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= set(problem)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert count_reports(ledger_engine) == 0


def test_an_invalid_document_names_each_failing_field(client: TestClient) -> None:
    body = submission(PRIVAT_V2, text="Kanarifugl Testesen")
    body["bekymringsmelding"]["kommunenummer"] = "46O1"
    body["bekymringsmelding"]["privatBarn"][0]["adresse"]["adresselinje1"] = 17
    del body["bekymringsmelding"]["privatMelder"]["personnavn"]
    body["vedlegg"] = []
    response = client.post("/v1/reports", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "pointer": "/bekymringsmelding/kommunenummer",
            "detail": "must match the pattern ^\\d{4}$",
        },
        {
            "pointer": "/bekymringsmelding/privatBarn/0/adresse/adresselinje1",
            "detail": "must be a string",
        },
        {"pointer": "/bekymringsmelding/privatMelder/personnavn", "detail": "is required"},
        {
            "pointer": "/vedlegg",
            "detail": "is not part of a submission: meldingstype and bekymringsmelding",
        },
    ]
    assert "Kanarifugl" not in response.text


def test_an_unknown_meldingstype_is_named_and_its_document_not_judged(client: TestClient) -> None:
    body = submission(PRIVAT_V2)
    body["meldingstype"] = "no.ks.fiks.bekymringsmelding.privat.v9"
    response = client.post("/v1/reports", json=body, headers=AUTH)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["pointer"] == "/meldingstype"
    assert "no.ks.fiks.bekymringsmelding.privat.v2" in error["detail"]


def test_sendingstidspunkt_is_kept_as_sent_and_stored_as_an_instant(
    client: TestClient, ledger_engine: Engine
) -> None:
    body = submission(PRIVAT_V2)
    body["bekymringsmelding"]["sendingstidspunkt"] = "2020-07-01T12:00:00"  # summer: +02:00
    report_id = client.post("/v1/reports", json=body, headers=AUTH).json()["id"]
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
        document = uow.reports.document(report_id)
    assert report is not None
    assert document is not None
    assert report.sendingstidspunkt == datetime(2020, 7, 1, 10, 0, tzinfo=UTC)
    assert json.loads(document)["sendingstidspunkt"] == "2020-07-01T12:00:00"


def test_a_sendingstidspunkt_that_is_no_date_time_is_accepted_without_an_instant(
    client: TestClient, ledger_engine: Engine
) -> None:
    body = submission(OFFENTLIG_V2)
    body["bekymringsmelding"]["sendingstidspunkt"] = "i går kveld"
    response = client.post("/v1/reports", json=body, headers=AUTH)
    assert response.status_code == 202
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(response.json()["id"])
    assert report is not None
    assert report.sendingstidspunkt is None


def test_a_body_over_the_limit_is_refused(ledger_engine: Engine) -> None:
    with client_for(ledger_engine, max_body_bytes=200) as small:
        response = small.post("/v1/reports", json=submission(PRIVAT_V2), headers=AUTH)
    assert response.status_code == 413
    assert count_reports(ledger_engine) == 0


def test_the_same_key_and_body_answer_the_first_report_again(
    client: TestClient, ledger_engine: Engine
) -> None:
    headers = {**AUTH, "Idempotency-Key": "portal-17"}
    first = client.post("/v1/reports", json=submission(PRIVAT_V2), headers=headers)
    again = client.post("/v1/reports", json=submission(PRIVAT_V2), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert count_reports(ledger_engine) == 1
    changed = client.post("/v1/reports", json=submission(PRIVAT_V2, text="other"), headers=headers)
    assert changed.status_code == 409
    assert count_reports(ledger_engine) == 1


def test_intake_answers_503_and_publishes_nothing_when_sqlite_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    upgrade(create_ledger_engine(f"sqlite:///{path}"))
    engine = create_ledger_engine(f"sqlite:///{path}", busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with client_for(engine) as client:
            response = client.post(
                "/v1/reports", json=submission(PRIVAT_V2), headers={**AUTH, "Idempotency-Key": "k1"}
            )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert_503_and_nothing_published(response, engine)


def test_intake_answers_503_and_publishes_nothing_when_postgres_is_read_only(
    postgres_url: str,
) -> None:
    """As on a standby during a failover: connections work, commits cannot."""
    engine = create_ledger_engine(postgres_url)
    upgrade(engine)
    name = make_url(postgres_url).database
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    engine.dispose()
    try:
        with client_for(engine) as client:
            response = client.post("/v1/reports", json=submission(PRIVAT_V2), headers=AUTH)
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SET default_transaction_read_only = off"))
            connection.execute(
                text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
            )
        engine.dispose()
    assert_503_and_nothing_published(response, engine)


def test_intake_answers_503_when_postgres_refuses_connections(postgres_url: str) -> None:
    engine = create_ledger_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    unreachable = make_url(postgres_url).set(port=1)  # nothing listens on port 1
    with client_for(create_ledger_engine(unreachable.render_as_string(False))) as client:
        response = client.post("/v1/reports", json=submission(PRIVAT_V2), headers=AUTH)
        alive = client.get("/healthz")
        ready = client.get("/readyz")
    assert alive.status_code == 200, "the process is alive: restarting it would not help"
    assert ready.status_code == 503
    assert "cannot be reached: Connection refused" in ready.json()["reason"]
    assert_503_and_nothing_published(response, engine)


def assert_503_and_nothing_published(response: Response, engine: Engine) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert count_reports(engine) == 0
    publisher = RecordingPublisher()
    publish_outbox(lambda: UnitOfWork(engine, TEST_KEYS), publisher, utc_now)
    assert publisher.published == []
