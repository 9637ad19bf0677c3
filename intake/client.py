"""A small Python client of the intake API, for portal backends.

    with IntakeClient("https://relay.example", token) as client:
        receipt = client.submit("no.ks.fiks.bekymringsmelding.privat.v2", document)
        client.status(receipt.id).status

`submit` sends one Idempotency-Key (its own, a UUID, unless given) and the same bytes on every
attempt, and retries 503, 429 and broken connections with backoff: however often it retries,
the report is stored once. Refusals (4xx) raise a typed `IntakeRefused` holding the server's
problem body; giving up on retries raises `IntakeUnavailable` with the key to send again.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from intake.client_errors import (
    BadRequest,
    BodyTooLarge,
    IdempotencyConflict,
    IntakeError,
    IntakeRefused,
    IntakeUnavailable,
    InvalidReport,
    ReportNotFound,
    Unauthorised,
    UnsupportedMediaType,
    refusal,
)
from intake.client_retry import RETRYABLE_STATUSES, RetryPolicy
from ledger.clock import retry_after_seconds

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "HistoryEntry",
    "IdempotencyConflict",
    "IntakeClient",
    "IntakeError",
    "IntakeRefused",
    "IntakeUnavailable",
    "InvalidReport",
    "Receipt",
    "ReportNotFound",
    "ReportStatus",
    "RetryPolicy",
    "Unauthorised",
    "UnsupportedMediaType",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """The intake's answer to a stored report (202)."""

    id: str
    status: str
    received_at: datetime
    location: str
    idempotency_key: str


@dataclass(frozen=True)
class HistoryEntry:
    status: str
    at: datetime


@dataclass(frozen=True)
class ReportStatus:
    """Where a report is: metadata only, never its content."""

    id: str
    meldingstype: str
    status: str
    kommunenummer: str
    recipient: str | None
    received_at: datetime
    updated_at: datetime
    history: tuple[HistoryEntry, ...]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


class IntakeClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        """`http` may be your own `httpx.Client` (transport, proxies, TLS); it is then yours
        to close. Requests go to absolute URLs under `base_url` either way."""
        self._base_url = base_url.rstrip("/")
        self._authorization = f"Bearer {token}"
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._owns_http = http is None
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._random = random_fraction

    def __enter__(self) -> IntakeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def submit(
        self, meldingstype: str, document: Mapping[str, Any], idempotency_key: str | None = None
    ) -> Receipt:
        """Store a report; returns once the relay has committed it."""
        key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
        body = json.dumps(
            {"meldingstype": meldingstype, "bekymringsmelding": document},
            ensure_ascii=False,
            allow_nan=False,
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        response = self._send("POST", "/v1/reports", key, content=body, headers=headers)
        answer = response.json()
        return Receipt(
            id=answer["id"],
            status=answer["status"],
            received_at=_instant(answer["received_at"]),
            location=response.headers.get("location", f"/v1/reports/{answer['id']}"),
            idempotency_key=key,
        )

    def status(self, report_id: str) -> ReportStatus:
        """Where a report is. Raises `ReportNotFound` for another client's report."""
        answer = self._send("GET", f"/v1/reports/{report_id}", None).json()
        return ReportStatus(
            id=answer["id"],
            meldingstype=answer["meldingstype"],
            status=answer["status"],
            kommunenummer=answer["kommunenummer"],
            recipient=answer["recipient"],
            received_at=_instant(answer["received_at"]),
            updated_at=_instant(answer["updated_at"]),
            history=tuple(
                HistoryEntry(entry["status"], _instant(entry["at"])) for entry in answer["history"]
            ),
        )

    def _send(
        self,
        method: str,
        path: str,
        key: str | None,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = self._base_url + path
        all_headers = {"Authorization": self._authorization, **(headers or {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, url, content=content, headers=all_headers)
            except httpx.TransportError as error:
                why, retry_after = type(error).__name__, None
            else:
                if response.is_success:
                    return response
                if response.status_code not in RETRYABLE_STATUSES:
                    raise _unretryable(response)
                why = str(response.status_code)
                retry_after = retry_after_seconds(
                    response.headers.get("retry-after"), datetime.now(UTC)
                )
            delay = self._retry.delay(attempt, retry_after, self._random)
            if delay is None:
                raise IntakeUnavailable(
                    f"{method} {path}: {why} after {attempt} attempts",
                    idempotency_key=key,
                    attempts=attempt,
                )
            log.warning(
                "%s %s: %s; attempt %d again in %.1f s", method, path, why, attempt + 1, delay
            )
            self._sleep(delay)


def _unretryable(response: httpx.Response) -> IntakeError:
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"title": response.reason_phrase, "detail": response.text[:200]}
    if 400 <= response.status_code < 500:
        return refusal(response.status_code, problem)
    return IntakeError(f"{response.status_code} {problem.get('title', '')}")
