"""The rest-json adapter's reading of every kind of answer, against an in-memory case system."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from deliverers.base import ContentMismatch, Delivery, PermanentError, Receipt, TransientError
from deliverers.rest_json import RestJsonDeliverer, signature_matches

SECRET = "s3cret-shared-with-the-case-system"
BODY = b'{"id":"r1","meldingstype":"x","bekymringsmelding":{}}'
DELIVERY = Delivery("r1", BODY, hashlib.sha256(BODY).hexdigest(), "x")

Handler = Callable[[httpx.Request], httpx.Response]


def deliverer(handler: Handler, token: str | None = None) -> RestJsonDeliverer:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return RestJsonDeliverer(
        "https://case.example/api/", SECRET, client=client, token=token, clock=lambda: 1764158400.7
    )


def receipt(status: int, **fields: object) -> Handler:
    return lambda request: httpx.Response(status, json=fields)


def test_the_request_is_signed_and_keyed_by_the_report_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"saksreferanse": "S-1", "sha256": DELIVERY.sha256})

    deliverer(handler, token="tok").deliver(DELIVERY)
    [request] = seen
    assert request.url == "https://case.example/api/bekymringsmeldinger"
    assert request.content == BODY
    assert request.headers["idempotency-key"] == "r1"
    assert request.headers["x-relay-timestamp"] == "1764158400"
    expected = hmac.new(SECRET.encode(), b"1764158400." + BODY, hashlib.sha256).hexdigest()
    assert request.headers["x-relay-signature"] == f"v1={expected}"
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["content-type"] == "application/json"


def test_201_with_our_hash_is_a_delivery() -> None:
    result = deliverer(receipt(201, saksreferanse="S-1", sha256=DELIVERY.sha256)).deliver(DELIVERY)
    assert result == Receipt("S-1", DELIVERY.sha256, 201, replay=False)


def test_200_with_our_hash_is_a_replay_of_an_earlier_delivery() -> None:
    result = deliverer(receipt(200, saksreferanse="S-1", sha256=DELIVERY.sha256)).deliver(DELIVERY)
    assert result.replay


def test_a_different_hash_is_a_content_mismatch() -> None:
    with pytest.raises(ContentMismatch, match="content mismatch"):
        deliverer(receipt(201, saksreferanse="S-1", sha256="0" * 64)).deliver(DELIVERY)


@pytest.mark.parametrize(
    "handler",
    [
        receipt(201, sha256=DELIVERY.sha256),
        receipt(201, saksreferanse="", sha256=DELIVERY.sha256),
        lambda request: httpx.Response(201, content=b"OK"),
        lambda request: httpx.Response(204),
    ],
    ids=["no-reference", "empty-reference", "not-json", "bare-2xx"],
)
def test_a_2xx_without_proof_is_not_a_delivery(handler: Handler) -> None:
    with pytest.raises(TransientError):
        deliverer(handler).deliver(DELIVERY)


@pytest.mark.parametrize(
    ("status", "retry_after"), [(408, None), (429, "7"), (500, None), (503, "120")]
)
def test_transient_answers_are_retried_and_keep_retry_after(
    status: int, retry_after: str | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    with pytest.raises(TransientError) as raised:
        deliverer(lambda request: httpx.Response(status, headers=headers)).deliver(DELIVERY)
    assert raised.value.status_code == status
    assert raised.value.retry_after == (float(retry_after) if retry_after else None)


def test_a_retry_after_date_is_read_as_seconds_from_now() -> None:
    later = datetime.now(UTC).timestamp() + 60
    header = httpx.Headers(
        {"Retry-After": datetime.fromtimestamp(later, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")}
    )
    with pytest.raises(TransientError) as raised:
        deliverer(lambda request: httpx.Response(503, headers=header)).deliver(DELIVERY)
    assert raised.value.retry_after is not None
    assert 55 <= raised.value.retry_after <= 61


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_other_4xx_are_permanent_with_the_answer_as_reason(status: int) -> None:
    problem = {
        "type": "about:blank",
        "title": "Ukjent kommune",
        "detail": "4601 er ikke vår",
        "status": status,
    }
    with pytest.raises(PermanentError) as raised:
        deliverer(lambda request: httpx.Response(status, json=problem)).deliver(DELIVERY)
    assert str(raised.value) == f"HTTP {status}: Ukjent kommune; 4601 er ikke vår"


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("cut")],
)
def test_network_failures_are_transient(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(TransientError) as raised:
        deliverer(handler).deliver(DELIVERY)
    assert type(error).__name__ in str(raised.value)


def test_read_back_finds_or_does_not_find() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/r1"):
            return httpx.Response(200, json={"id": "r1", "saksreferanse": "S-1", "sha256": "ab"})
        return httpx.Response(404)

    adapter = deliverer(handler)
    found = adapter.read_back("r1")
    assert found is not None
    assert (found.saksreferanse, found.sha256) == ("S-1", "ab")
    assert adapter.read_back("r2") is None


def test_list_since_asks_with_an_rfc3339_time() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ids": ["r1", "r2"]})

    ids = deliverer(handler).list_since(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    assert ids == {"r1", "r2"}
    assert seen[0].url.params["mottatt_fra"] == "2026-11-26T08:00:00.000000Z"


def test_during_a_rotation_the_push_carries_a_signature_for_each_secret() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"saksreferanse": "S-1", "sha256": DELIVERY.sha256})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    RestJsonDeliverer(
        "https://case.example/api/",
        SECRET,
        client=client,
        clock=lambda: 1764158400.7,
        previous_secret="the-old-secret",
    ).deliver(DELIVERY)
    [request] = seen
    signed = b"1764158400." + BODY
    new = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    old = hmac.new(b"the-old-secret", signed, hashlib.sha256).hexdigest()
    assert request.headers["x-relay-signature"] == f"v1={new},v1={old}"
    for secret in (SECRET, "the-old-secret"):
        assert signature_matches(request.headers["x-relay-signature"], secret, "1764158400", BODY)
    assert not signature_matches(request.headers["x-relay-signature"], "x", "1764158400", BODY)
