"""The client's retry rules, on a fake transport (httpx.MockTransport): which answers are
retried, with which key and bytes, and for how long."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from intake.client import IntakeClient
from intake.client_errors import BadRequest, IntakeError, IntakeRefused, IntakeUnavailable
from intake.client_retry import RetryPolicy
from intake.meldingstyper import PRIVAT_V2
from ledger.clock import retry_after_seconds
from tests.support.reports import document

RECEIPT = {
    "id": "0b0c1f4e-6d7a-4c43-9d55-2f1f7f0e1a2b",
    "status": "RECEIVED",
    "received_at": "2024-05-01T10:00:00Z",
}


class Server:
    """Answers the queued responses in turn and records every request it saw."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(server: Server, sleeps: list[float], **kwargs: Any) -> IntakeClient:
    http = httpx.Client(transport=httpx.MockTransport(server))
    return IntakeClient(
        "http://relay.test/",
        "t" * 40,
        http=http,
        sleep=sleeps.append,
        random_fraction=lambda: 1.0,
        **kwargs,
    )


def problem(status: int) -> httpx.Response:
    return httpx.Response(status, json={"type": "x", "title": "t", "status": status, "detail": "d"})


def test_429_503_and_broken_connections_are_retried_with_one_key_and_the_same_bytes() -> None:
    server = Server(
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.ConnectError("refused"),
        problem(503),
        httpx.ReadTimeout("lost"),
        httpx.Response(202, json=RECEIPT, headers={"Location": "/v1/reports/x"}),
    )
    sleeps: list[float] = []
    receipt = client_for(server, sleeps).submit(PRIVAT_V2, document(PRIVAT_V2))
    assert receipt.id == RECEIPT["id"]
    assert receipt.received_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    keys = {request.headers["idempotency-key"] for request in server.requests}
    bodies = {request.content for request in server.requests}
    assert len(server.requests) == 5
    assert keys == {receipt.idempotency_key}
    assert len(bodies) == 1
    assert json.loads(bodies.pop())["bekymringsmelding"] == document(PRIVAT_V2)
    assert sleeps == [2.0, 1.0, 2.0, 4.0]  # Retry-After, then full-jitter backoff at its top
    assert server.requests[0].url == "http://relay.test/v1/reports"
    assert server.requests[0].headers["authorization"] == "Bearer " + "t" * 40


def test_a_given_key_is_sent_as_given() -> None:
    server = Server(httpx.Response(202, json=RECEIPT))
    client_for(server, []).submit(PRIVAT_V2, document(PRIVAT_V2), idempotency_key="portal-9")
    assert server.requests[0].headers["idempotency-key"] == "portal-9"


def test_it_gives_up_after_the_last_attempt_and_names_the_key() -> None:
    server = Server(*[problem(503)] * 3)
    sleeps: list[float] = []
    client = client_for(server, sleeps, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(IntakeUnavailable) as unavailable:
        client.submit(PRIVAT_V2, document(PRIVAT_V2), idempotency_key="k")
    assert unavailable.value.attempts == 3
    assert unavailable.value.idempotency_key == "k"
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 415, 422])
def test_refusals_are_not_retried(status: int) -> None:
    server = Server(problem(status))
    with pytest.raises(IntakeRefused) as refused:
        client_for(server, []).submit(PRIVAT_V2, document(PRIVAT_V2))
    assert refused.value.status == status
    assert len(server.requests) == 1


def test_a_server_error_is_not_retried_and_not_a_refusal() -> None:
    server = Server(httpx.Response(500, text="Internal Server Error"))
    with pytest.raises(IntakeError) as error:
        client_for(server, []).submit(PRIVAT_V2, document(PRIVAT_V2))
    assert not isinstance(error.value, IntakeRefused)
    assert len(server.requests) == 1


def test_a_refusal_without_a_problem_body_is_still_typed() -> None:
    server = Server(httpx.Response(400, text="Invalid HTTP request received."))
    with pytest.raises(BadRequest) as refused:
        client_for(server, []).submit(PRIVAT_V2, document(PRIVAT_V2))
    assert refused.value.errors == []


def test_nan_is_refused_before_anything_is_sent() -> None:
    server = Server()
    with pytest.raises(ValueError, match="JSON"):
        client_for(server, []).submit(PRIVAT_V2, {**document(PRIVAT_V2), "x": float("nan")})
    assert server.requests == []


def test_status_is_retried_too() -> None:
    view = {
        "id": "r",
        "meldingstype": PRIVAT_V2,
        "status": "ROUTED",
        "kommunenummer": "4601",
        "recipient": "bergen",
        "received_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:00:01Z",
        "history": [
            {"status": "RECEIVED", "at": "2024-05-01T10:00:00Z"},
            {"status": "ROUTED", "at": "2024-05-01T10:00:01Z"},
        ],
    }
    server = Server(httpx.ConnectError("refused"), httpx.Response(200, json=view))
    status = client_for(server, []).status("r")
    assert status.recipient == "bergen"
    assert [entry.status for entry in status.history] == ["RECEIVED", "ROUTED"]


NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("5", 5.0),
        (" 120 ", 120.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("soon", None),
        ("-3", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_backoff_grows_to_its_cap_and_retry_after_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=1, cap_seconds=8, max_retry_after_seconds=60)
    top = [policy.delay(attempt, None, lambda: 1.0) for attempt in range(1, 10)]
    assert top == [1, 2, 4, 8, 8, 8, 8, 8, 8]
    assert policy.delay(3, None, lambda: 0.25) == 1.0
    assert policy.delay(1, 3600, lambda: 1.0) == 60
    assert policy.delay(10, None, lambda: 1.0) is None
