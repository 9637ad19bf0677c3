"""Hostile and broken requests against a running intake API (real uvicorn, real ledger).

Each gets its 4xx as problem+json, never a 500, and the ledger holds no new report.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from intake.meldingstyper import PRIVAT_V2
from tests.support.intake_server import AUTH, count_reports, serving_on_sqlite
from tests.support.reports import submission

pytestmark = pytest.mark.integration

LIMIT = 512 * 1024
CANARY = "Kanarifugl Fiendtlig-Ærlig"
JSON = {**AUTH, "Content-Type": "application/json"}


def body_with(path: tuple[str | int, ...], value: Any) -> bytes:
    """A valid submission whose value at `path` (in the document) is replaced."""
    body = submission(PRIVAT_V2, text=CANARY)
    target: Any = body["bekymringsmelding"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return json.dumps(body).encode()


def nested(opening: str, closing: str, depth: int) -> bytes:
    return ('{"meldingstype": ' + opening * depth + closing * depth + "}").encode()


VALID = json.dumps(submission(PRIVAT_V2, text=CANARY)).encode()
Headers = list[tuple[str, str | bytes]]


def encoded(headers: Headers) -> list[tuple[bytes, bytes]]:
    """The headers as httpx sends them: names and str values in ASCII, bytes as they are."""
    return [
        (name.encode("ascii"), value if isinstance(value, bytes) else value.encode("ascii"))
        for name, value in headers
    ]


ROWS: list[tuple[str, Headers, bytes, int]] = [
    ("invalid UTF-8", [*JSON.items()], b'{"meldingstype": "\xff\xfe"}', 400),
    ("UTF-8 encoded surrogate", [*JSON.items()], b'{"a": "\xed\xa0\x80"}', 400),
    ("byte order mark", [*JSON.items()], b"\xef\xbb\xbf" + VALID, 400),
    ("duplicate keys", [*JSON.items()], b'{"meldingstype": "a", "meldingstype": "b"}', 400),
    (
        "duplicate keys deep down",
        [*JSON.items()],
        VALID[:-2] + b', "leveringskanal": "Fagsystem"}}',
        400,
    ),
    ("NaN", [*JSON.items()], b'{"meldingstype": NaN}', 400),
    ("Infinity", [*JSON.items()], b'{"meldingstype": Infinity}', 400),
    ("-Infinity", [*JSON.items()], b'{"meldingstype": -Infinity}', 400),
    ("a float that overflows", [*JSON.items()], b'{"meldingstype": 1e400}', 400),
    ("an integer of 5000 digits", [*JSON.items()], b'{"a": ' + b"9" * 5000 + b"}", 400),
    ("arrays nested 65 deep", [*JSON.items()], nested("[", "]", 64), 400),
    ("arrays nested 50000 deep", [*JSON.items()], nested("[", "]", 50_000), 400),
    ("objects nested 50000 deep", [*JSON.items()], nested('{"a":', "}", 50_000), 400),
    ("NUL in a value", [*JSON.items()], body_with(("melding",), f"{CANARY}\x00"), 400),
    ("NUL in a key", [*JSON.items()], body_with(("x\x00",), 1), 400),
    ("a lone surrogate", [*JSON.items()], VALID.replace(b"Kanarifugl", b"\\ud800"), 400),
    ("a raw control character", [*JSON.items()], b'{"meldingstype": "a\x01"}', 400),
    ("an array at the top", [*JSON.items()], b"[" + VALID + b"]", 400),
    ("a string at the top", [*JSON.items()], b'"meldingstype"', 400),
    ("a number at the top", [*JSON.items()], b"17", 400),
    ("null at the top", [*JSON.items()], b"null", 400),
    ("an empty body", [*JSON.items()], b"", 400),
    ("trailing garbage", [*JSON.items()], VALID + b"}", 400),
    ("no Content-Type", [*AUTH.items()], VALID, 415),
    ("text/plain", [*AUTH.items(), ("Content-Type", "text/plain")], VALID, 415),
    ("form", [*AUTH.items(), ("Content-Type", "application/x-www-form-urlencoded")], VALID, 415),
    (
        "latin-1 charset",
        [*AUTH.items(), ("Content-Type", "application/json; charset=latin-1")],
        VALID,
        415,
    ),
    ("gzip coding", [*JSON.items(), ("Content-Encoding", "gzip")], VALID, 415),
    ("no Authorization", [("Content-Type", "application/json")], VALID, 401),
    (
        "unknown token",
        [("Authorization", "Bearer " + "x" * 40), ("Content-Type", "application/json")],
        VALID,
        401,
    ),
    (
        "Basic scheme",
        [("Authorization", "Basic dXNlcjpwYXNz"), ("Content-Type", "application/json")],
        VALID,
        401,
    ),
    (
        "a bearer without a token",
        [("Authorization", "Bearer"), ("Content-Type", "application/json")],
        VALID,
        401,
    ),
    ("two Authorization headers", [*JSON.items(), *AUTH.items()], VALID, 400),
    ("two Content-Type headers", [*JSON.items(), ("Content-Type", "application/json")], VALID, 400),
    (
        "two Idempotency-Keys",
        [*JSON.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
        VALID,
        400,
    ),
    (
        "Idempotency-Key of 201 characters",
        [*JSON.items(), ("Idempotency-Key", "k" * 201)],
        VALID,
        400,
    ),
    (
        "Idempotency-Key not ASCII",
        [*JSON.items(), ("Idempotency-Key", "nøkkel".encode())],
        VALID,
        400,
    ),
    ("unknown meldingstype", [*JSON.items()], VALID.replace(b"privat.v2", b"privat.v3"), 422),
    ("no document", [*JSON.items()], b'{"meldingstype": "' + PRIVAT_V2.encode() + b'"}', 422),
    (
        "document is an array",
        [*JSON.items()],
        b'{"meldingstype": "x", "bekymringsmelding": []}',
        422,
    ),
    ("an empty object", [*JSON.items()], b"{}", 422),
    ("a field outside the envelope", [*JSON.items()], VALID[:-1] + b', "ekstra": 1}', 422),
    ("document fails its schema", [*JSON.items()], body_with(("privatBarn", 0), "barn"), 422),
    ("Content-Length over the limit", [*JSON.items()], b"{" + b" " * (1024 * 1024) + b"}", 413),
]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    with serving_on_sqlite(tmp_path_factory.mktemp("hostile"), max_body_bytes=LIMIT) as running:
        yield running


@pytest.fixture
def engine(running: tuple[Engine, str]) -> Engine:
    return running[0]


@pytest.fixture
def api_url(running: tuple[Engine, str]) -> str:
    return running[1]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://")
    assert problem["title"]
    assert problem["detail"]
    for error in problem.get("errors", []):
        assert set(error) == {"pointer", "detail"}
        assert error["pointer"] == "" or error["pointer"].startswith("/")
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return problem


@pytest.mark.parametrize(
    ("headers", "content", "status"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS]
)
def test_each_hostile_request_gets_its_problem_and_stores_nothing(
    api_url: str,
    engine: Engine,
    headers: Headers,
    content: bytes,
    status: int,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    before = count_reports(engine)
    response = httpx.post(
        f"{api_url}/v1/reports", content=content, headers=encoded(headers), timeout=30
    )
    problem = assert_problem(response, status)
    assert count_reports(engine) == before
    if status == 422:
        assert problem["errors"], "a 422 names the failing fields"
    out, err = capfd.readouterr()
    assert CANARY not in caplog.text + out + err + response.text


def test_a_nul_or_a_lone_surrogate_is_pointed_at(api_url: str) -> None:
    nul = httpx.post(
        f"{api_url}/v1/reports",
        content=body_with(("privatBarn", 1, "relasjon"), "a\x00"),
        headers=JSON,
    )
    assert assert_problem(nul, 400)["errors"] == [
        {
            "pointer": "/bekymringsmelding/privatBarn/1/relasjon",
            "detail": "this string holds U+0000",
        }
    ]
    surrogate = httpx.post(
        f"{api_url}/v1/reports", content=b'{"a": {"b~/c": ["x", "\\udfff"]}}', headers=JSON
    )
    assert assert_problem(surrogate, 400)["errors"][0]["pointer"] == "/a/b~0~1c/1"


def test_the_valid_body_of_the_table_is_accepted(api_url: str, engine: Engine) -> None:
    """The table's refusals are about what each row changed, not about the base body."""
    before = count_reports(engine)
    response = httpx.post(f"{api_url}/v1/reports", content=VALID, headers=JSON)
    assert response.status_code == 202
    assert count_reports(engine) == before + 1


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    api_url: str, engine: Engine
) -> None:
    with _connect(api_url) as sock:
        sock.sendall(_head(api_url, "Content-Length: 1000000000"))
        status_line, body = _read_response(sock)
    assert status_line.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["status"] == 413


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(
    api_url: str, engine: Engine
) -> None:
    """The client would send 64 MiB; the server answers 413 after the limit (512 KiB) and
    stops reading, so the client is told long before it has sent it all."""
    before = count_reports(engine)
    chunk = b" " * 16384
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    budget = 64 * 1024 * 1024
    sent = 0
    answered = False
    with _connect(api_url) as sock:
        sock.sendall(_head(api_url, "Transfer-Encoding: chunked"))
        try:
            while sent < budget:
                sock.sendall(frame)
                sent += len(chunk)
                if select.select([sock], [], [], 0)[0]:
                    answered = True
                    break
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            answered = True  # the server stopped reading (closed, or its buffers are full)
        status_line, body = _read_response(sock)
    assert answered
    assert sent < budget // 4, f"the server read {sent} bytes of a body over the limit"
    assert status_line.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["status"] == 413
    assert count_reports(engine) == before


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return sock


def _head(url: str, length_header: str) -> bytes:
    lines = [
        "POST /v1/reports HTTP/1.1",
        f"Host: {urlsplit(url).netloc}",
        *(f"{name}: {value}" for name, value in JSON.items()),
        length_header,
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """The status line and body of the one response on `sock` (read until it closes)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
            head, separator, body = received.partition(b"\r\n\r\n")
            length = [
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            if separator and length and len(body) >= length[0]:
                break
    except (ConnectionResetError, TimeoutError):
        pass
    head, _, body = received.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body
